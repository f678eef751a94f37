import type { MikroORM } from '@mikro-orm/core';
import { parseLsn } from '../replicas/lsn';
import { failureOf, withinMs } from './deadline';

/** One read replica as the health check sees it. */
export interface ReplicaHealth {
  /** The replica's `name` in the ORM's `replicas` option, else its position there. */
  replica: string;
  reachable: boolean;
  /** How far its replay is behind the primary's WAL, in bytes (0: caught up). */
  lagBytes?: number;
  /** How long ago it replayed the last transaction it has received but not applied (0: nothing waits). */
  lagSeconds?: number;
  /** Why it did not answer: an error code or `timeout`. */
  error?: string;
}

interface Connection {
  execute(sql: string, params: unknown[], method: 'all'): Promise<Array<Record<string, unknown>>>;
}

/** The primary's WAL position, as far as it is written (what a replica can have received). */
const PRIMARY_POSITION = 'SELECT pg_current_wal_lsn()::text AS "lsn"';

/**
 * A replica's replay position, and how long its oldest unapplied transaction has
 * waited. `now() - pg_last_xact_replay_timestamp()` alone grows while the primary
 * is idle, so it counts only while something received is still to be applied.
 */
const REPLICA_POSITION =
  'SELECT pg_last_wal_replay_lsn()::text AS "lsn", CASE WHEN pg_last_wal_receive_lsn() IS NULL ' +
  'OR pg_last_wal_receive_lsn() > pg_last_wal_replay_lsn() THEN ' +
  'COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0) ELSE 0 END AS "seconds"';

/**
 * How far each of the ORM's read replicas is behind the primary. Replica reads
 * stay lag-safe whatever this says (a lagging replica is not asked, the primary
 * answers): the numbers are for dashboards and alerts, never a reason for `down`.
 * The replicas are the MikroORM 6 driver's connections (`replicas`), as
 * `ReplicaReads` uses them.
 */
export async function replicaLag(orm: MikroORM, timeoutMs: number): Promise<ReplicaHealth[]> {
  const driver = orm.em.getDriver() as unknown as { replicas?: Connection[] };
  const connections = Array.isArray(driver.replicas) ? driver.replicas : [];
  if (connections.length === 0) return [];
  const configured = (orm.config.get('replicas' as never) as Array<{ name?: string }> | undefined) ?? [];
  // Asked once for all replicas; a primary that does not answer leaves `lagBytes` out (the database check says why).
  const primary = withinMs(
    (orm.em.getDriver().getConnection('write') as unknown as Connection).execute(PRIMARY_POSITION, [], 'all'),
    timeoutMs,
  ).then(
    ([row]) => parseLsn(row?.lsn),
    () => null,
  );
  return Promise.all(
    connections.map(async (connection, index): Promise<ReplicaHealth> => {
      const replica = configured[index]?.name ?? String(index);
      let theirs: Record<string, unknown> | undefined;
      try {
        [theirs] = await withinMs(connection.execute(REPLICA_POSITION, [], 'all'), timeoutMs);
      } catch (error) {
        return { replica, reachable: false, error: failureOf(error) };
      }
      const health: ReplicaHealth = { replica, reachable: true };
      const replayed = parseLsn(theirs?.lsn);
      const written = await primary;
      // Asked at about the same time: a replica a hair ahead of the primary's answer is caught up.
      if (replayed !== null && written !== null) health.lagBytes = Number(written > replayed ? written - replayed : 0n);
      const seconds = Number(theirs?.seconds ?? 0);
      health.lagSeconds = Number.isFinite(seconds) ? Math.max(0, seconds) : 0;
      return health;
    }),
  );
}
