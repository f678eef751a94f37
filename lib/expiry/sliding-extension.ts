import type { SessionCache } from '../cache/session-cache';
import type { SessionEvents } from '../events/session-events';
import { logger } from '../logger';
import type { ResolvedSessionsOptions } from '../options/options.interface';
import type { Session } from '../store/session.entity';
import type { StatementRunner } from '../store/statement-runner';
import type { SessionStatements } from '../store/statements';

/** Bound on the memo of recent extensions. */
const RECENT_EXTENSIONS = 10_000;

/**
 * Sliding expiry: a used session's expiry moves to `now + ttl` (never past
 * `insertedAt + absoluteTtl`), written only when it would move by more than
 * the threshold. The write is one conditional UPDATE, so concurrent requests,
 * here or in other processes, extend once, and a deleted or expired row stays so.
 */
export class SlidingExtension {
  /** Session id → the expiry (ms) an extension of this process wrote or is writing: its concurrent requests do not send it again. */
  private readonly recent = new Map<string, number>();

  constructor(
    private readonly options: ResolvedSessionsOptions,
    private readonly statements: SessionStatements,
    private readonly runner: StatementRunner,
    private readonly cache: SessionCache | undefined,
    private readonly events: SessionEvents,
  ) {}

  /** The expiry of a session created or extended at `now`; `null` = never expires. */
  expiryAt(insertedAt: Date, now: Date): Date | null {
    const expiry = this.expiryMs(insertedAt, now.getTime());
    return expiry === Infinity ? null : new Date(expiry);
  }

  /**
   * Moves the session's expiry when it would move by more than `threshold`
   * seconds; `true` when this call wrote it. `whileValid` (a sliding extension,
   * as opposed to `extend()`) leaves alone a row no longer valid when the
   * UPDATE runs. A failed sliding write keeps the session as it was: it was
   * found valid, so a courtesy that failed must not refuse it.
   */
  async slide(session: Session, now: Date, threshold: number | null, whileValid = true): Promise<boolean> {
    const target = this.dueExpiry(session, now.getTime(), threshold);
    if (target === null) return false;
    return this.write(session, target, now, threshold, whileValid);
  }

  /**
   * `slide` for a request: most requests are not due, and then no promise is
   * made at all (each costs more under the async hooks of the ORM's request context).
   */
  slideIfDue(session: Session, now: Date, threshold: number | null): Promise<boolean> | false {
    const target = this.dueExpiry(session, now.getTime(), threshold);
    return target === null ? false : this.write(session, target, now, threshold, true);
  }

  /**
   * Whether `slide` would write at `nowMs` (epoch ms; it also brings `expiresAt` up to an
   * extension this process made). A number, not a `Date`: a cache hit makes none.
   */
  isDue(session: Session, nowMs: number, threshold: number | null): boolean {
    return this.dueExpiry(session, nowMs, threshold) !== null;
  }

  private async write(
    session: Session,
    target: Date,
    now: Date,
    threshold: number | null,
    whileValid: boolean,
  ): Promise<boolean> {
    if (this.recent.size >= RECENT_EXTENSIONS) this.recent.clear();
    this.recent.set(session.id, target.getTime());
    try {
      const statement = this.statements.extend(
        session.id,
        target,
        now,
        threshold ?? 0,
        whileValid,
        whileValid ? this.options.trackLastUsed : null,
      );
      const rows = await this.runner.request(statement);
      if (rows.length === 0) {
        // Moved or deleted elsewhere: forget the target we did not write, read it afresh next time.
        this.forget([session.id]);
        this.cache?.invalidate([session.id]);
        return false;
      }
      session.expiresAt = target;
      session.updatedAt = now;
      if (this.runner.inTransaction) {
        // The caller's transaction may yet roll it back: neither the cache nor the memo may keep it.
        this.recent.delete(session.id);
        this.cache?.invalidate([session.id]);
      } else this.cache?.patch(session.id, target, now);
      this.events.emit('extended', { kind: this.options.name, session });
      return true;
    } catch (error) {
      this.recent.delete(session.id);
      if (!whileValid) throw error;
      logger.warn(
        `Extending a "${this.options.name}" session failed (${(error as Error)?.name ?? 'error'}); it keeps its expiry`,
      );
      return false;
    }
  }

  /** Drops what this process remembers of recent extensions (the sessions changed). */
  forget(ids: Iterable<string> | 'all'): void {
    if (ids === 'all') this.recent.clear();
    else for (const id of ids) this.recent.delete(id);
  }

  /**
   * The expiry to write when the session's would move by more than `threshold`,
   * else `null` (bringing `expiresAt` up to an extension this process already made).
   */
  private dueExpiry(session: Session, nowMs: number, threshold: number | null): Date | null {
    if (threshold === null || session.expiresAt === null || this.options.ttl === null) return null;
    const target = this.expiryMs(session.insertedAt, nowMs);
    const known = Math.max(session.expiresAt.getTime(), this.recent.get(session.id) ?? 0);
    if (target !== Infinity && target - known > threshold * 1000) return new Date(target);
    if (known > session.expiresAt.getTime()) session.expiresAt = new Date(known);
    return null;
  }

  /** `now + ttl`, never past `insertedAt + absoluteTtl`, in epoch ms; `Infinity` = never expires. */
  private expiryMs(insertedAt: Date, nowMs: number): number {
    const { ttl, absoluteTtl } = this.options;
    const sliding = ttl === null ? Infinity : nowMs + ttl * 1000;
    const absolute = absoluteTtl === null ? Infinity : insertedAt.getTime() + absoluteTtl * 1000;
    return Math.min(sliding, absolute);
  }
}
