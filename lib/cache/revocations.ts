import type { SlidingExtension } from '../expiry/sliding-extension';
import { logger } from '../logger';
import type { StatementRunner } from '../store/statement-runner';
import type { CacheInvalidationListener, InvalidationMessage } from './invalidation';
import type { SessionCache } from './session-cache';

/**
 * What a change or revocation of sessions must do besides its statement: drop
 * them from this instance's cache and extension memo (before and after the
 * statement: a concurrent miss may re-cache the old row in between), and tell
 * the other instances, waiting until they have dropped them too.
 */
export class Revocations {
  constructor(
    private readonly kind: string,
    private readonly table: string,
    private readonly runner: StatementRunner,
    private readonly sliding: SlidingExtension,
    private readonly cache: SessionCache | undefined,
    private readonly listener: CacheInvalidationListener | undefined,
  ) {}

  /** Runs `statement`, which changes the sessions `ids` (or any: `'all'`), inside the caller's transaction if any. */
  async revoke<T>(ids: string[] | 'all', statement: () => Promise<T>): Promise<T> {
    this.forget(ids);
    const result = await statement();
    this.forget(ids);
    if (!this.listener) return result;
    try {
      const heard = await this.listener.announce(ids, (notice) => this.runner.run(notice), this.runner.inTransaction);
      if (!heard)
        logger.warn(
          `A "${this.kind}" revocation was not acknowledged by every instance in time: a slow one may serve the session from its cache until it hears it`,
        );
    } catch (error) {
      // The change itself went through; other instances' caches expire it within `cache.ttl`.
      logger.warn(`Announcing a "${this.kind}" revocation failed (${(error as Error)?.name ?? 'error'})`);
    }
    return result;
  }

  /** Another instance's revocation, heard by the listener. */
  heard(message: InvalidationMessage): void {
    if (message?.table !== this.table) return;
    if (message.all) this.cache?.clear();
    else if (Array.isArray(message.ids)) this.cache?.invalidate(message.ids);
  }

  private forget(ids: string[] | 'all'): void {
    this.sliding.forget(ids);
    if (ids === 'all') this.cache?.clear();
    else this.cache?.invalidate(ids);
  }
}
