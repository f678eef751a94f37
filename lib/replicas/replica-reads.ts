import type { MikroORM } from '@mikro-orm/core';
import { DirectQuery } from '../store/direct-query';
import type { ReadFloor } from './read-floor';

type Rows = Record<string, unknown>[];

/** A replica's replay position, read before the statement after it takes its snapshot. */
const REPLAYED = 'SELECT pg_last_wal_replay_lsn()::text AS "lsn"';

/**
 * Reads on a read replica (MikroORM's `replicas`), lag-safe: a replica's answer
 * counts only when it has replayed past the `ReadFloor` (every revocation this
 * instance knows of) and this instance can hear other instances' revocations.
 * `undefined` means "ask the primary".
 *
 * The replay position is read by a statement of its own, before the one that
 * reads the rows: a statement's snapshot is taken before its select list runs,
 * so a position read in the same statement could be past a revocation its
 * snapshot does not show.
 */
export class ReplicaReads {
  private readonly direct = new Map<unknown, DirectQuery | undefined>();

  constructor(
    private readonly orm: MikroORM,
    private readonly floor: ReadFloor,
    /** Whether revocations are heard right now (the listener proved it with its own probe). */
    private readonly canHear: () => boolean,
    readonly enabled: boolean,
  ) {}

  /** Whether the app's ORM has replicas and the kind reads them (on MikroORM 6, where connections are reachable). */
  static wanted(orm: MikroORM, prefer: boolean | null): boolean {
    const replicas = (orm.config.get('replicas' as never) as unknown[] | undefined) ?? [];
    const ormPrefers = (orm.config.get('preferReadReplicas' as never) as boolean | undefined) ?? true;
    return replicas.length > 0 && (prefer ?? ormPrefers) && DirectQuery.of(orm) !== undefined;
  }

  /** The lookup by digest: `text` holds only literals (see `SessionStatements.lookupText`). One round trip. */
  async lookup(text: string): Promise<Rows | undefined> {
    const replica = this.replica();
    if (!replica) return undefined;
    const [[position], rows] = await replica.batch(`${REPLAYED}; ${text}`);
    return this.floor.trusts(position?.lsn) ? rows : undefined;
  }

  /** Any read with `?` parameters (`findOne`, `list`, `count`): two statements on one replica connection. */
  async read(sql: string, params: unknown[]): Promise<Rows | undefined> {
    const replica = this.replica();
    if (!replica) return undefined;
    const [[position], rows] = await replica.sequence(REPLAYED, sql, params);
    return this.floor.trusts(position?.lsn) ? rows : undefined;
  }

  /** A replica to ask now, or none (not wanted, or revocations cannot be heard). */
  private replica(): DirectQuery | undefined {
    if (!this.enabled || !this.canHear()) return undefined;
    // The driver picks a replica at random, whatever `preferReadReplicas` says: that is decided above.
    const connection = this.orm.em.getDriver().getConnection('read');
    if (!this.direct.has(connection)) this.direct.set(connection, DirectQuery.of(this.orm, connection));
    return this.direct.get(connection);
  }
}
