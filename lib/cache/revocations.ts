import type { SlidingExtension } from '../expiry/sliding-extension';
import { logger } from '../logger';
import type { StatementRunner } from '../store/statement-runner';
import { randomUUID } from 'node:crypto';
import type { ReadFloor } from '../replicas/read-floor';
import type { SessionStatements, Statement } from '../store/statements';
import { type CacheInvalidationListener, type InvalidationMessage, WAL_POSITION } from './invalidation';
import { revocationNotice, sameTable } from './protocol';
import type { SessionCache } from './session-cache';

/**
 * What a change or revocation of sessions must do besides its statement: drop
 * them from this instance's cache and extension memo (before and after the
 * statement: a concurrent miss may re-cache the old row in between), and tell
 * the other instances, waiting until they have dropped them too.
 */
export class Revocations {
  private readonly table: string;

  constructor(
    private readonly kind: string,
    statements: SessionStatements,
    private readonly runner: StatementRunner,
    private readonly sliding: SlidingExtension,
    private readonly cache: SessionCache | undefined,
    private readonly listener: CacheInvalidationListener | undefined,
    private readonly floor: ReadFloor,
    /** Whether replicas are read: then each revocation's WAL position is taken and sent. */
    private readonly positions: boolean,
  ) {
    this.table = statements.table;
  }

  /** Runs `statement`, which changes the sessions `ids` (or any: `'all'`), inside the caller's transaction if any. */
  async revoke<T>(ids: string[] | 'all', statement: () => Promise<T>): Promise<T> {
    this.forget(ids);
    const result = await statement();
    this.forget(ids);
    if (!this.listener) {
      if (ids !== 'all' && ids.length === 0) return result;
      // No listener here (no cache, no replica reads), so no answer can be heard; but other
      // instances may cache or read replicas: they must still be told.
      await this.runner.run(revocationNotice(this.table, ids)).catch((error) => this.warnUnsent(error));
      return result;
    }
    const inTransaction = this.runner.inTransaction;
    const nonce = randomUUID();
    try {
      let lsn: string | undefined;
      if (this.positions && inTransaction) {
        this.floor.hold(nonce); // its position is known only once it commits: read the primary until then
      } else if (this.positions) {
        // Committed: from now on, a replica may answer only once it has replayed this far.
        [{ lsn }] = await this.runner.run<Array<{ lsn: string }>>({ sql: WAL_POSITION, params: [] });
        this.floor.raise(lsn);
      }
      const notice = <T>(statement: Statement) => this.runner.run<T>(statement);
      const heard = await this.listener.announce(ids, notice, inTransaction, lsn, nonce);
      if (heard) return result;
      const { state } = this.listener;
      logger.warn(
        state === 'listening'
          ? `A "${this.kind}" revocation was not acknowledged by every instance in time: a slow one may serve the session from its cache until it hears it`
          : `A "${this.kind}" revocation was sent while this instance's listener is down (${state}): no instance was waited for, and one may serve the session from its cache until the notice reaches it`,
      );
    } catch (error) {
      this.warnUnsent(error);
    }
    return result;
  }

  /** The change itself went through; other instances' caches expire it within `cache.ttl`. */
  private warnUnsent(error?: unknown): void {
    logger.warn(`Announcing a "${this.kind}" revocation failed (${(error as Error)?.name ?? 'error'})`);
  }

  /**
   * After rows were deleted that no cache serves (pruning: they had expired), so
   * only replicas must not answer for them: the WAL position, sent to every
   * instance with no ids. Nothing to do when no replica is read.
   */
  async deleted(): Promise<void> {
    if (this.positions) await this.revoke([], async () => undefined);
  }

  /** Another instance's revocation, heard by the listener. */
  heard(message: InvalidationMessage): void {
    if (!sameTable(message?.table, this.table)) return;
    this.floor.raise(message.lsn);
    if (typeof message.nonce === 'string') this.floor.settle(message.nonce);
    if (message.all) this.cache?.clear();
    else if (Array.isArray(message.ids)) this.cache?.invalidate(message.ids);
  }

  private forget(ids: string[] | 'all'): void {
    this.sliding.forget(ids);
    if (ids === 'all') this.cache?.clear();
    else this.cache?.invalidate(ids);
  }
}
