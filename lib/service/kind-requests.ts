import type { Rotated } from '../security/rotation';
import type { Session } from '../store/session.entity';
import type { KindParts } from './kind-parts';
import type { Resolution } from './token-resolver';

/**
 * What the guard asks of a kind for each request, kept apart from the
 * service's public API: resolving a token (from the cache without a promise
 * when it can), and the reissue of a due cookie token.
 * @internal
 */
export class KindRequests<Data extends object = Record<string, any>> {
  constructor(
    private readonly parts: Pick<KindParts, 'resolver' | 'rotation' | 'clock'>,
    private readonly extendOnUse: boolean,
  ) {}

  /**
   * `authenticate` for the guard, which also needs to know whether the expiry
   * moved and whether the token was the current one: from the cache when it
   * holds the session, else one lookup. `digests`: when the cache missed.
   * `admits`: the route's `maxAge` and `scopes`; a session they refuse is not slid.
   */
  resolve(
    token: unknown,
    extend = this.extendOnUse,
    digests?: string[],
    admits?: (session: Session) => boolean,
  ): Promise<Resolution<Data>> {
    return this.parts.resolver.resolve<Data>(token, extend, digests, admits);
  }

  /**
   * The cached session of a token needing no extension, without a promise (the
   * guard's fast path), and the token's digests, for `resolve` on a miss.
   */
  fromCache(token: string): { session: Session<Data> | undefined; digests: string[] } {
    const digests = this.parts.resolver.digestsOf(token);
    return { session: this.parts.resolver.fromCache<Data>(digests, this.extendOnUse), digests };
  }

  /** Records a use of a session `fromCache` gave, once the route admitted it. */
  used(session: Session): void {
    this.parts.resolver.used(session);
  }

  /** Now in epoch ms by the database's clock, which a route's `maxAge` is judged by. */
  nowMs(): number {
    return this.parts.clock.nowMs();
  }

  /** Whether `rotation.every` has passed since the session's last rotation (else its login). */
  reissueDue(session: Session): boolean {
    return this.parts.rotation?.isDue(session, this.parts.clock.nowMs()) ?? false;
  }

  /** The reissue of a cookie-borne current token: the new token and session, or `null` when another request rotated it first. */
  reissue(session: Session, token: string): Promise<Rotated | null> {
    return this.parts.rotation!.reissue(session, token);
  }
}
