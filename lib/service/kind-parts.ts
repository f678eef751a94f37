import type { MikroORM } from '@mikro-orm/core';
import { CacheInvalidationListener } from '../cache/invalidation';
import { Revocations } from '../cache/revocations';
import { SessionCache } from '../cache/session-cache';
import { SessionEvents } from '../events/session-events';
import { Pruner } from '../expiry/pruner';
import { SlidingExtension } from '../expiry/sliding-extension';
import type { ResolvedSessionsOptions } from '../options/options.interface';
import { SessionRows } from '../store/rows';
import { StatementRunner } from '../store/statement-runner';
import { SessionStatements } from '../store/statements';
import { TokenDigests } from '../tokens/token-digests';
import { TokenResolver } from './token-resolver';

/** The parts a kind's `SessionsService` works with, each of one job. */
export interface KindParts {
  statements: SessionStatements;
  rows: SessionRows;
  runner: StatementRunner;
  events: SessionEvents;
  sliding: SlidingExtension;
  pruner: Pruner;
  revocations: Revocations;
  cache: SessionCache | undefined;
  listener: CacheInvalidationListener | undefined;
  digests: TokenDigests;
  resolver: TokenResolver;
}

/** Builds a kind's parts from its options, wired to each other. */
export function kindParts(options: ResolvedSessionsOptions, orm: MikroORM): KindParts {
  const statements = new SessionStatements(options);
  const runner = new StatementRunner(orm, options.name, options.statementTimeout);
  const events = new SessionEvents(options);
  const cache = options.cache ? new SessionCache(options.cache) : undefined;
  const listener = cache
    ? new CacheInvalidationListener(
        orm,
        statements.table,
        (message) => revocations.heard(message),
        (listening) => cache.setUsable(listening),
      )
    : undefined;
  const sliding = new SlidingExtension(options, statements, runner, cache, events);
  const revocations = new Revocations(options.name, statements.table, runner, sliding, cache, listener);
  const rows = new SessionRows(options);
  const digests = new TokenDigests(options, options.secrets);
  return {
    statements,
    rows,
    runner,
    events,
    sliding,
    pruner: new Pruner(options, orm, statements, runner, events),
    revocations,
    cache,
    listener,
    digests,
    resolver: new TokenResolver(digests, statements, rows, runner, sliding, cache, options.extendThreshold),
  };
}
