import type { SessionCache } from '../cache/session-cache';
import type { SlidingExtension } from '../expiry/sliding-extension';
import type { SessionRows } from '../store/rows';
import type { Session } from '../store/session.entity';
import type { StatementRunner } from '../store/statement-runner';
import type { SessionStatements } from '../store/statements';
import type { TokenDigests } from '../tokens/token-digests';
import type { LastUse } from '../security/last-use';
import type { DatabaseClock } from '../store/database-clock';

/**
 * What resolving a request's token found, for the guard: the valid session (or
 * `null`), and whether this call slid its expiry (a cookie then goes out again).
 */
export interface Resolution<Data extends object = Record<string, any>> {
  session: Session<Data> | null;
  extended: boolean;
  /** Whether the token is the session's current one, not one a rotation replaced (inside its grace). */
  current: boolean;
}

const NONE: Resolution<any> = Object.freeze({ session: null, extended: false, current: false });

/**
 * A request's path below the guard: a token that cannot be ours is refused
 * before hashing; else the cache answers, or one indexed lookup by digest;
 * then the sliding extension, when due.
 */
export class TokenResolver {
  constructor(
    private readonly digests: TokenDigests,
    private readonly statements: SessionStatements,
    private readonly rows: SessionRows,
    private readonly runner: StatementRunner,
    private readonly sliding: SlidingExtension,
    private readonly cache: SessionCache | undefined,
    private readonly extendThreshold: number | null,
    private readonly lastUse: LastUse | undefined,
    private readonly clock: DatabaseClock,
  ) {}

  /** The digests a token may be stored under; none (and no hashing) for one that cannot be ours. */
  digestsOf(token: unknown): string[] {
    return this.digests.isWellFormed(token) ? this.digests.of(token) : [];
  }

  /**
   * The session the cache holds under these digests when no extension is due,
   * without a promise; else `undefined` (then `resolve`, with the same digests).
   * See the guard's `acceptCached` for what this buys. A session whose cookie
   * token is due for reissue is still given: only the guard knows where the
   * token came from (a header token is never reissued).
   */
  fromCache<Data extends object>(digests: string[], extend: boolean): Session<Data> | undefined {
    if (!this.cache?.isUsable || digests.length === 0) return undefined;
    const now = this.clock.nowMs();
    const session = this.cache.get(digests[0], now) as Session<Data> | undefined;
    if (!session || (extend && this.sliding.isDue(session, now, this.extendThreshold))) return undefined;
    return session;
  }

  /** Records a use of a session `fromCache` gave, once the route admitted it (`trackLastUsed`). */
  used(session: Session): void {
    this.lastUse?.record(session, this.clock.nowMs(), false);
  }

  /**
   * `digests`: when the caller already has them (a cache miss), so a token is hashed once a request.
   * `admits`: the route's own check of the session; one it refuses is neither slid (its refusal sends no
   * cookie) nor recorded as used.
   */
  async resolve<Data extends object>(
    token: unknown,
    extend: boolean,
    digests = this.digestsOf(token),
    admits?: (session: Session) => boolean,
  ): Promise<Resolution<Data>> {
    if (digests.length === 0) return NONE;
    const now = this.clock.now();
    let session = this.cache?.get(digests[0], now.getTime()) as Session<Data> | undefined;
    let current = true; // the cache holds sessions under their current token only
    if (!session) {
      const stamp = this.cache?.stamp ?? 0; // a revocation meanwhile keeps this row out of the cache
      const rows = await this.runner.lookup(this.statements.lookup(digests), () => this.statements.lookupText(digests));
      if (rows.length === 0) return NONE;
      session = this.rows.toSession(rows[0]) as Session<Data>;
      // With rotation, the row may have matched by the token it replaced: that one is never cached (its grace ends).
      current = digests.includes(session.authTokenDigest);
      // Nor is a row read inside the caller's transaction: its snapshot may predate a revocation
      // already heard (REPEATABLE READ), or show a change it may yet roll back.
      if (current && this.cache && !this.runner.inTransaction)
        this.cache.set(digests[0], this.rows.toSession(rows[0]), stamp);
    }
    // A session the route refuses (its maxAge, its scopes) was not used: neither slid nor recorded.
    const admitted = !admits || admits(session);
    const sliding = extend && admitted && this.sliding.slideIfDue(session, now, this.extendThreshold);
    const extended = sliding === false ? false : await sliding;
    if (admitted) this.lastUse?.record(session, now.getTime(), extended);
    return { session, extended, current };
  }
}
