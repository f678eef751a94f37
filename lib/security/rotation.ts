import type { Revocations } from '../cache/revocations';
import type { DatabaseClock } from '../store/database-clock';
import type { SessionEvents } from '../events/session-events';
import type { ResolvedSessionsOptions } from '../options/options.interface';
import type { SessionRows } from '../store/rows';
import type { SecurityStatements } from '../store/security-statements';
import type { Session } from '../store/session.entity';
import type { StatementRunner } from '../store/statement-runner';
import type { Statement } from '../store/statements';
import { generateToken } from '../tokens/auth-token';
import type { TokenDigests } from '../tokens/token-digests';

/** A session with its new token: the only copy of the plaintext. */
export interface Rotated<Data extends object = Record<string, any>> {
  session: Session<Data>;
  token: string;
}

/**
 * Token rotation: a new token for the same row (id, data, columns and
 * `insertedAt`, the login, kept); the replaced token keeps working for
 * `grace`, an older one never. A rotation is announced like a revocation:
 * caches drop the session and lagging replicas are not trusted with it.
 */
export class TokenRotation {
  private readonly every: number | null;

  constructor(
    private readonly options: ResolvedSessionsOptions,
    private readonly statements: SecurityStatements,
    private readonly runner: StatementRunner,
    private readonly rows: SessionRows,
    private readonly digests: TokenDigests,
    private readonly revocations: Revocations,
    private readonly events: SessionEvents,
    private readonly clock: DatabaseClock,
  ) {
    this.every = options.rotation?.every ?? null;
  }

  /** `rotate()`: a new token for a valid session; `null` when it is not valid (or gone). */
  rotate(id: string): Promise<Rotated | null> {
    return this.write(id, (digest) => this.statements.rotate(id, digest, this.clock.now()));
  }

  /**
   * Whether the guard should reissue this session's token: `every` has passed
   * since its last rotation (else its login), by the database's clock as this
   * instance sees it (`now`); the statement checks again on the database.
   */
  isDue(session: Session, now: number): boolean {
    if (this.every === null) return false;
    const since = (session.rotatedAt ?? session.insertedAt).getTime();
    return now - since >= this.every * 1000;
  }

  /**
   * The guard's reissue of the current `token`: `null` when another request
   * (here or on another instance) rotated it first, or it is no longer valid.
   */
  reissue(session: Session, token: string): Promise<Rotated | null> {
    const from = { digests: this.digests.of(token), every: this.every ?? 0 };
    return this.write(session.id, (digest) => this.statements.rotate(session.id, digest, this.clock.now(), from));
  }

  private async write(id: string, statement: (digest: string) => Statement): Promise<Rotated | null> {
    const token = this.options.tokenPrefix + generateToken(this.options.tokenLength);
    const update = statement(this.digests.forNew(token));
    const rows = await this.runner.run<Record<string, unknown>[]>(update);
    // Nothing changed (another request rotated it first, it is not due by the database's
    // clock, or it is no longer valid): nothing to announce, no cache to drop.
    if (rows.length === 0) return null;
    // Changed: caches drop it (a lookup that read the old row meanwhile is kept out by the
    // generation this bumps) and lagging replicas are not trusted with it.
    await this.revocations.revoke([id], async () => undefined);
    const session = this.rows.toSession(rows[0]);
    this.events.emit('rotated', { kind: this.options.name, session });
    return { session, token };
  }
}
