import type { MikroORM } from '@mikro-orm/core';
import type { ListenerState } from '../cache/invalidation';
import { failureOf, withinMs } from './deadline';
import { replicaLag, type ReplicaHealth } from './replica-lag';

export type { ReplicaHealth } from './replica-lag';

/** How long a kind's checks wait for the database by default: a probe usually gives up after a few seconds. */
export const DEFAULT_HEALTH_TIMEOUT_MS = 2000;

/**
 * One kind's health, as `SessionsService.health()` and the terminus indicator
 * report it. Only `database: 'down'` makes the kind unhealthy: a bypassed cache,
 * a pooler or a lagging replica leave sessions working, only slower.
 */
export interface KindHealth {
  /** Whether `SELECT 1` came back through the kind's ORM connection within the timeout. */
  database: 'up' | 'down';
  /** Why the database is down: the driver's error code (`ECONNREFUSED`, `57P03`…) or `timeout`. */
  error?: string;
  /**
   * Whether other instances' revocations are heard: `listening`; `connecting`
   * or `unreachable` (the cache is bypassed, reads go to the primary, until it
   * listens); `pooler` (connections go through a transaction pooler and no
   * `listenUrl` is set: bypassed for good); `off` (no cache and no replica reads: nothing to hear).
   */
  listener: ListenerState | 'off';
  /** The cache: on, serving (it is bypassed while revocations cannot be heard), how many sessions it holds. */
  cache: { enabled: boolean; serving: boolean; size: number };
  /** Where reads go now: replicas only when the kind uses them and its listener listens. */
  reads: 'primary' | 'replicas';
  /** When the kind reads replicas: each replica's lag. */
  replicas?: ReplicaHealth[];
}

/** What the check reads from the service: its `cacheStatus`. */
interface CacheStatus {
  enabled: boolean;
  serving: boolean;
  size: number;
  listener: ListenerState | null;
}

/**
 * Checks one kind. Kept out of `SessionsService`, which only holds one and
 * answers `health()` with it: the service stays about sessions, and the few
 * statements of a health check live here, each bounded by a timeout.
 */
export class KindCheckup {
  constructor(
    private readonly orm: MikroORM,
    private readonly status: () => CacheStatus,
    /** Whether the kind reads replicas (`ReplicaReads.enabled`). */
    private readonly replicasUsed: boolean,
  ) {}

  async check(timeoutMs: number = DEFAULT_HEALTH_TIMEOUT_MS): Promise<KindHealth> {
    const [database, replicas] = await Promise.all([
      this.database(timeoutMs),
      this.replicasUsed ? replicaLag(this.orm, timeoutMs) : undefined,
    ]);
    // Read after the queries: a listener that reconnected meanwhile shows as it is now.
    const { enabled, serving, size, listener } = this.status();
    return {
      ...database,
      listener: listener ?? 'off',
      cache: { enabled, serving, size },
      reads: this.replicasUsed && listener === 'listening' ? 'replicas' : 'primary',
      ...(replicas ? { replicas } : {}),
    };
  }

  /** `SELECT 1` on the primary (never inside a caller's transaction: a health check has none to join). */
  private async database(timeoutMs: number): Promise<Pick<KindHealth, 'database' | 'error'>> {
    try {
      await withinMs(this.orm.em.getDriver().getConnection('write').execute('SELECT 1', [], 'all'), timeoutMs);
      return { database: 'up' };
    } catch (error) {
      return { database: 'down', error: failureOf(error) };
    }
  }
}
