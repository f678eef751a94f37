import { hashToken, isWellFormedToken } from './auth-token';

/**
 * The digests of a kind's tokens: the one a new token is stored under (the
 * first secret's), and every one an existing token may be stored under (one
 * per accepted secret, while they rotate). Holds the kind's secrets, and
 * trusts its options: resolving them checked the algorithm and the secrets.
 */
export class TokenDigests {
  constructor(
    private readonly options: { hashAlgorithm: string | null; tokenLength: number; tokenPrefix: string },
    private readonly secrets: readonly string[],
  ) {}

  /** Whether a token could be one of this kind's: checked before any hashing or query. */
  isWellFormed(token: unknown): token is string {
    return isWellFormedToken(token, this.options.tokenLength, this.options.tokenPrefix);
  }

  /** What a new token is stored under. */
  forNew(token: string): string {
    return hashToken(token, this.options.hashAlgorithm, this.secrets[0]);
  }

  /** What a well-formed token may be stored under (check it with `isWellFormed` first). */
  of(token: string): string[] {
    const { hashAlgorithm } = this.options;
    if (this.secrets.length === 0) return [hashToken(token, hashAlgorithm)];
    return this.secrets.map((secret) => hashToken(token, hashAlgorithm, secret));
  }
}
