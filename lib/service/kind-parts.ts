import type { MikroORM } from '@mikro-orm/core';
import { CacheInvalidationListener } from '../cache/invalidation';
import { Revocations } from '../cache/revocations';
import { SessionCache } from '../cache/session-cache';
import { SessionEvents } from '../events/session-events';
import { Pruner } from '../expiry/pruner';
import { SlidingExtension } from '../expiry/sliding-extension';
import type { ResolvedSessionsOptions } from '../options/options.interface';
import { SessionRows } from '../store/rows';
import { DatabaseClock } from '../store/database-clock';
import { StatementRunner } from '../store/statement-runner';
import { SessionStatements } from '../store/statements';
import { TokenDigests } from '../tokens/token-digests';
import { TokenResolver } from './token-resolver';
import { logger } from '../logger';
import { featureColumnsOf } from '../store/columns';
import { featureColumnProblems, missingTable, tableColumns } from '../store/table-check';
import { ReadFloor } from '../replicas/read-floor';
import { ReplicaReads } from '../replicas/replica-reads';
import { LastUse } from '../security/last-use';
import { TokenRotation } from '../security/rotation';
import { SessionCap } from '../security/session-cap';
import { SecurityStatements } from '../store/security-statements';

/** The parts a kind's `SessionsService` works with, each of one job. */
export interface KindParts {
  statements: SessionStatements;
  rows: SessionRows;
  runner: StatementRunner;
  /** The database's time on this instance: what the kind writes and judges sessions by. */
  clock: DatabaseClock;
  events: SessionEvents;
  sliding: SlidingExtension;
  pruner: Pruner;
  revocations: Revocations;
  cache: SessionCache | undefined;
  listener: CacheInvalidationListener | undefined;
  digests: TokenDigests;
  resolver: TokenResolver;
  replicas: ReplicaReads;
  /** With `rotation`. */
  rotation: TokenRotation | undefined;
  /** With `maxPerUser`. */
  cap: SessionCap | undefined;
}

/** Builds a kind's parts from its options, wired to each other. */
export function kindParts(options: ResolvedSessionsOptions, orm: MikroORM): KindParts {
  const statements = new SessionStatements(options);
  const runner = new StatementRunner(orm, options.name, options.statementTimeout);
  const clock = new DatabaseClock(runner, options.name);
  const events = new SessionEvents(options);
  const cache = options.cache ? new SessionCache(options.cache) : undefined;
  const floor = new ReadFloor();
  const replicasWanted = ReplicaReads.wanted(orm, options.preferReadReplicas);
  // Replica reads need revocations heard as much as the cache does.
  const listener =
    cache || replicasWanted
      ? new CacheInvalidationListener({
          orm,
          table: statements.table,
          listenUrl: options.listenUrl,
          positions: replicasWanted,
          onMessage: (message) => revocations.heard(message),
          onListening: (listening, lsn) => {
            if (listening) floor.raise(lsn);
            cache?.setUsable(listening);
          },
        })
      : undefined;
  const replicas = new ReplicaReads(orm, floor, () => listener?.state === 'listening', replicasWanted);
  runner.readReplicas(replicas);
  const sliding = new SlidingExtension(options, statements, runner, cache, events);
  const revocations = new Revocations(
    options.name,
    statements,
    runner,
    sliding,
    cache,
    listener,
    floor,
    replicasWanted,
  );
  const rows = new SessionRows(options);
  const digests = new TokenDigests(options, options.secrets);
  const security = new SecurityStatements(statements);
  const rotation = options.rotation
    ? new TokenRotation(options, security, runner, rows, digests, revocations, events, clock)
    : undefined;
  const lastUse =
    options.trackLastUsed === null ? undefined : new LastUse(options.name, options.trackLastUsed, security, runner);
  const cap = options.maxPerUser
    ? new SessionCap(options, orm, statements, security, runner, rows, revocations, events, clock)
    : undefined;
  return {
    statements,
    rows,
    runner,
    clock,
    events,
    sliding,
    pruner: new Pruner(options, orm, statements, runner, events, revocations),
    revocations,
    cache,
    listener,
    digests,
    resolver: new TokenResolver(
      digests,
      statements,
      rows,
      runner,
      sliding,
      cache,
      options.extendThreshold,
      lastUse,
      clock,
    ),
    replicas,
    rotation,
    cap,
  };
}

/**
 * Starts a kind's listener, if it has one, and says once which mode the kind
 * runs in: where reads go, whether the cache serves, whether revocations are heard.
 */
export async function startKind(
  parts: KindParts,
  options: Pick<ResolvedSessionsOptions, 'name' | 'listenUrl'>,
): Promise<void> {
  const { listener, replicas, cache } = parts;
  void parts.clock.start(); // its first measurement need not hold up listening
  if (!listener) return;
  await listener.start();
  const kind = `Kind "${options.name}"`;
  const reads = replicas.enabled ? 'reads on replicas (lag-safe)' : 'reads on the primary';
  const via = options.listenUrl ? ' (through listenUrl)' : '';
  if (listener.state === 'pooler') {
    logger.warn(
      `${kind}: connections go through a transaction pooler, which cannot deliver revocation notices, and no listenUrl is set: ` +
        `${cache ? 'cache bypassed, ' : ''}reads on the primary, revocations wait for nobody`,
    );
  } else if (listener.state === 'listening') {
    logger.log(`${kind}: listening for revocations${via}; ${cache ? 'cache on; ' : ''}${reads}`);
  } else {
    logger.warn(
      `${kind}: not yet listening for revocations${via}; until it is, ${cache ? 'cache bypassed, ' : ''}reads on the primary`,
    );
  }
}

/**
 * Says once, at start-up, when the kind's table is missing (every lookup would answer 503 until it exists),
 * or lacks a column of a feature that is on: one query for both.
 */
export async function checkTable(
  parts: KindParts,
  options: Pick<ResolvedSessionsOptions, 'name' | 'tableName' | 'schema' | 'rotation' | 'scopes' | 'trackLastUsed'>,
): Promise<void> {
  const columns = await tableColumns(parts.runner, parts.statements);
  if (columns === undefined) return; // the database cannot say now; lookups will
  if (columns.size === 0) {
    logger.warn(`Kind "${options.name}": ${missingTable(options)}. Until then lookups answer 503.`);
    return;
  }
  const problems = featureColumnProblems(columns, featureColumnsOf(options));
  if (problems.length > 0)
    logger.warn(
      `Kind "${options.name}": ${problems.join('; ')}. The features on need them: migrate the table ` +
        '(orm.schema.updateSchema() or a migration; see "Migrating an existing table" in the README).',
    );
}
