// Node's own, not the global: an app's tests that fake timers must not keep the ORM's connections out.
import { setImmediate } from 'node:timers';

/** A connection as the ORM's pool hands it out (pg's `Client`, with knex's marker once it broke). */
export interface Leasable {
  /** Set by knex when the connection errored or ended: it must go back to the pool, which drops it. */
  __knex__disposed?: unknown;
}

/** knex's client: the ORM's pool, as `DirectQuery` uses it. */
export interface KnexPool<C> {
  acquireConnection(): Promise<C>;
  releaseConnection(connection: C): Promise<unknown>;
  /** tarn's pool behind it: whether anyone waits for a connection. */
  pool?: { numPendingAcquires?(): number };
}

/**
 * Connections of the ORM's pool, each kept for the rest of the event-loop turn
 * that used it, so the next statement of the same turn takes it without going
 * through the pool. Going through knex's pool costs several promises, an
 * acquire timer and an async validation per statement; measured with
 * callgrind on the bench's app (1,000-request windows after 8,000 of warm-up,
 * main thread), the authenticated route cost about 1,048 k instructions a
 * request through the pool and 986 k with connections kept for the turn; the
 * floor (`pg.Pool`) 931 k.
 *
 * Nothing changes for the ORM: a kept connection stays counted as in use, is
 * given back at the end of the turn (`setImmediate`), and goes back at once
 * whenever anyone waits on the pool, or when its statement failed (the pool
 * then checks it, and drops it if broken).
 */
export class TurnLease<C extends Leasable> {
  private readonly idle: C[] = [];
  private flushScheduled = false;

  constructor(private readonly pool: KnexPool<C>) {}

  /** A connection kept this turn, else one from the pool. */
  take(use: (connection: C) => void, fail: (error: Error) => void): void {
    const kept = this.idle.pop();
    if (kept !== undefined) use(kept);
    else this.pool.acquireConnection().then(use, fail);
  }

  /** Done with `connection`: kept for the turn when it is sound and nobody waits, else back to the pool. */
  giveBack(connection: C, failed: boolean): void {
    if (failed || connection.__knex__disposed || this.othersWait()) {
      this.release(connection);
      return;
    }
    this.idle.push(connection);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Every kept connection back to the pool (the end of the turn). */
  flush(): void {
    this.flushScheduled = false;
    for (const connection of this.idle.splice(0)) this.release(connection);
  }

  private othersWait(): boolean {
    const waiting = this.pool.pool?.numPendingAcquires;
    return typeof waiting !== 'function' || this.pool.pool!.numPendingAcquires!() > 0;
  }

  private release(connection: C): void {
    try {
      // knex's release is synchronous and resolves at once; a failure is knex's to log, not the statement's.
      this.pool.releaseConnection(connection).catch(() => undefined);
    } catch {
      // idem (a pool already destroyed)
    }
  }
}
