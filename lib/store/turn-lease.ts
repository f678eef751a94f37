import * as timers from 'node:timers';

/** Node's own, taken at load: timers an app's tests fake later must not keep the ORM's connections out. */
const nextTurn = timers.setImmediate;

/** A connection as the ORM's pool hands it out (pg's `Client`, with knex's marker once it broke). */
export interface Leasable {
  /** Set by knex when the connection errored or ended: it must go back to the pool, which drops it. */
  __knex__disposed?: unknown;
  /** pg's: `'I'` when idle, outside any transaction. */
  getTransactionStatus?(): string | null;
}

/** knex's client: the ORM's pool, as `DirectQuery` uses it. */
export interface KnexPool<C> {
  acquireConnection(): Promise<C>;
  releaseConnection(connection: C): Promise<unknown>;
  /** tarn's pool behind it: whether anyone waits for a connection, and its events. */
  pool?: { numPendingAcquires?(): number; on?(event: string, listener: () => void): void };
}

const leases = new WeakMap<object, TurnLease<any>>();

/**
 * Connections of the ORM's pool, each kept for the rest of the event-loop turn
 * that used it, so the next statement of the same turn takes it without going
 * through the pool. Going through knex's pool costs several promises, an
 * acquire timer and an async validation per statement; measured with
 * callgrind on the bench's app (2,000-request windows after 8,000 of warm-up,
 * main thread), the authenticated route cost about 1,048 k instructions a
 * request through the pool and 986 k with connections kept for the turn; the
 * floor (`pg.Pool`) 931 k.
 *
 * A kept connection stays counted as in use by the pool. It goes back at the
 * end of the turn (`setImmediate`), and at once when anyone asks the pool for
 * a connection (tarn's `acquireRequest`), when anyone already waits, when the
 * pool is being destroyed, or when its statement failed (the pool then checks
 * it, and drops it if broken). The pool's own checks (a `validate` hook, a
 * connection's maximum lifetime) run when a connection comes from it, not on
 * reuse within the turn. One lease per pool, shared by every kind and replica
 * reading through it.
 */
export class TurnLease<C extends Leasable> {
  private readonly idle: C[] = [];
  private flushScheduled = false;

  private constructor(private readonly pool: KnexPool<C>) {
    const flush = () => this.flush();
    pool.pool?.on?.('acquireRequest', flush);
    pool.pool?.on?.('poolDestroyRequest', flush);
  }

  /** The lease of this pool. */
  static of<C extends Leasable>(pool: KnexPool<C>): TurnLease<C> {
    let lease = leases.get(pool) as TurnLease<C> | undefined;
    if (!lease) leases.set(pool, (lease = new TurnLease(pool)));
    return lease;
  }

  /** A connection kept this turn, else one from the pool. */
  take(use: (connection: C) => void, fail: (error: Error) => void): void {
    let kept = this.idle.pop();
    while (kept !== undefined && kept.__knex__disposed) {
      this.release(kept); // broke while kept: the pool drops it
      kept = this.idle.pop();
    }
    if (kept === undefined) this.pool.acquireConnection().then((connection) => this.serve(connection, use, fail), fail);
    else this.serve(kept, use, fail);
  }

  /** A throw in `use`, on a kept connection or a fresh one, gives the connection back and fails the statement. */
  private serve(connection: C, use: (connection: C) => void, fail: (error: Error) => void): void {
    try {
      use(connection);
    } catch (error) {
      this.release(connection);
      fail(error as Error);
    }
  }

  /** Done with `connection`: kept for the turn when it is sound, idle and nobody waits, else back to the pool. */
  giveBack(connection: C, failed: boolean): void {
    if (
      failed ||
      connection.__knex__disposed ||
      (connection.getTransactionStatus && connection.getTransactionStatus() !== 'I') ||
      this.othersWait()
    ) {
      this.release(connection);
      return;
    }
    this.idle.push(connection);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      nextTurn(() => {
        this.flushScheduled = false;
        this.flush();
      });
    }
  }

  /** Every kept connection back to the pool (the end of the turn, or someone asks it for one). */
  flush(): void {
    if (this.idle.length === 0) return;
    for (const connection of this.idle.splice(0)) this.release(connection);
  }

  /** Whether anyone waits on the pool; a pool that cannot say counts as waited on (nothing is kept). */
  private othersWait(): boolean {
    const tarn = this.pool.pool;
    return typeof tarn?.numPendingAcquires !== 'function' || tarn.numPendingAcquires() > 0;
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
