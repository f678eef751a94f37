import { randomUUID } from 'node:crypto';
import type { EntitySchema, MikroORM } from '@mikro-orm/core';
import type { OnApplicationBootstrap, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import type { ModuleRef } from '@nestjs/core';
import { appendSetCookie, clearedSessionCookie, type ResponseLike, sessionCookie } from '../http/cookies';
import type { ResolvedSessionsOptions } from '../options/options.interface';
import { Session, sessionEntity } from '../store/session.entity';
import type { ListenerState } from '../cache/invalidation';
import type { Where } from '../store/statements';
import { describeValue, isUuid } from '../store/values';
import { checkAttributes, type Created, idOf, type SessionOrId } from './attributes';
import { generateToken } from '../tokens/auth-token';
import { KindCheckup, type KindHealth } from '../health/kind-health';
import type {
  AuthenticateOptions,
  CreateSessionAttrs,
  ListOptions,
  SessionFilters,
  UpdateSessionAttrs,
} from './filters.interface';
import { checkTable, type KindParts, kindParts, startKind } from './kind-parts';
import { deleteWhere } from './delete-where';
import { KindRequests } from './kind-requests';

export type { SessionOrId } from './attributes';

/** A kind's options as the service shows them: without its secrets and ORM instance. */
export type KindOptions = Omit<ResolvedSessionsOptions, 'secrets' | 'orm'>;

export type { Resolution } from './token-resolver';

/**
 * Creates, authenticates, lists and revokes the sessions of one kind.
 *
 * Inject it as `SessionsService` for the default kind, or with
 * `@InjectSessions(name)` for a named one.
 */
export class SessionsService<Data extends object = Record<string, any>>
  implements OnModuleInit, OnApplicationBootstrap, OnModuleDestroy
{
  /** The kind's MikroORM entity. */
  readonly entity: EntitySchema<Session>;
  /** The kind's options, defaults applied (its secrets and ORM instance are not shown). */
  readonly options: KindOptions;
  /** What the guard asks of the kind for each request. @internal */
  readonly requests: KindRequests<Data>;
  private readonly parts: KindParts;
  private readonly checkup: KindCheckup;

  constructor(
    options: ResolvedSessionsOptions,
    /** The app's MikroORM instance, which every statement goes through. */
    private readonly orm: MikroORM,
    private readonly moduleRef?: ModuleRef,
  ) {
    const { secrets: _secrets, orm: _orm, ...shown } = options;
    this.options = Object.freeze(shown);
    this.entity = sessionEntity(options);
    this.parts = kindParts(options, orm);
    this.requests = new KindRequests(this.parts, options.extendOnUse);
    this.checkup = new KindCheckup(orm, () => this.cacheStatus, this.parts.replicas.enabled);
  }

  /** Finds the app's event emitter once every provider exists; starts listening for revocations. */
  async onModuleInit(): Promise<void> {
    this.parts.events.connect(this.moduleRef);
    // Not awaited: an unreachable database must not hold start-up; the cache serves once listening.
    void startKind(this.parts, this.options);
  }

  /** Starts pruning on `pruneInterval`, once the app (and its database) is up; says if the table is missing. */
  onApplicationBootstrap(): void {
    this.parts.pruner.start();
    void checkTable(this.parts, this.options); // by now the app has had its chance to create it
  }

  /** Stops the pruning timer and waits for a running cycle, before the ORM closes. */
  async onModuleDestroy(): Promise<void> {
    await this.parts.pruner.stop();
    this.parts.clock.stop();
    await this.parts.listener?.stop();
  }

  /** The kind's name. */
  get name(): string {
    return this.options.name;
  }

  /**
   * Whether the cache is on, serving (it is bypassed while revocations cannot
   * be heard), how full, and its listener's state (`'pooler'`: connections go
   * through a transaction pooler, which cannot deliver notices).
   */
  get cacheStatus(): { enabled: boolean; serving: boolean; size: number; listener: ListenerState | null } {
    return {
      enabled: !!this.parts.cache,
      serving: this.parts.cache?.isUsable ?? false,
      size: this.parts.cache?.size ?? 0,
      listener: this.parts.listener?.state ?? null,
    };
  }

  /**
   * The kind's health, for a readiness probe (`SessionsHealthIndicator` reports
   * every kind's to `@nestjs/terminus`): the database reachable (`SELECT 1`
   * within `timeoutMs`), the listener's state, the cache, where reads go and,
   * when the kind reads replicas, each one's lag. Never throws.
   */
  health(timeoutMs?: number): Promise<KindHealth> {
    return this.checkup.check(timeoutMs);
  }

  /**
   * Creates a session. The returned `token` is the only copy of the plaintext:
   * hand it to the client; only its digest is stored.
   */
  async create(attrs: CreateSessionAttrs<Data> = {}): Promise<Created<Data>> {
    const { data = {} as Data, ...columns } = checkAttributes('create', attrs, this.options);
    const token = this.options.tokenPrefix + generateToken(this.options.tokenLength);
    const now = this.parts.clock.now();
    const insert = this.parts.statements.insert({
      ...columns,
      id: randomUUID(),
      authTokenDigest: this.parts.digests.forNew(token),
      data,
      expiresAt: this.parts.sliding.expiryAt(now, now),
      insertedAt: now,
      updatedAt: now,
    });
    const capped = this.parts.cap
      ? await this.parts.cap.insert(columns, insert)
      : { row: (await this.parts.runner.run<Record<string, unknown>[]>(insert))[0], expired: undefined };
    const session = this.parts.rows.toSession(capped.row) as Session<Data>;
    this.parts.events.emit('created', { kind: this.name, session });
    return capped.expired ? { session, token, expired: capped.expired as Session<Data>[] } : { session, token };
  }

  /**
   * Gives a valid session a new token (with `rotation`): same id, data, columns
   * and `insertedAt` (its login). The token it replaces keeps authenticating
   * for `rotation.grace`, an older one never. `null` when the session is not
   * valid. The returned `token` is the only copy of the plaintext.
   */
  async rotate(session: SessionOrId): Promise<{ session: Session<Data>; token: string } | null> {
    const id = idOf('rotate', session);
    if (!this.parts.rotation) {
      throw new TypeError(`rotate: kind "${this.name}" has no rotation; set its option rotation: { grace }`);
    }
    if (!isUuid(id)) return null;
    return (await this.parts.rotation.rotate(id)) as { session: Session<Data>; token: string } | null;
  }

  /**
   * The valid session of a token, or `null`. One indexed lookup; one conditional
   * UPDATE more only when the expiry would move by more than `extendThreshold`.
   * A token that cannot be one of ours is refused before hashing or querying.
   */
  async authenticate(token: unknown, options: AuthenticateOptions = {}): Promise<Session<Data> | null> {
    return (await this.requests.resolve(token, options?.extend ?? this.options.extendOnUse)).session;
  }

  /** The first session matching the filters (newest first), or `null`. */
  async findOne(
    filters: SessionFilters,
    options: AuthenticateOptions & Pick<ListOptions, 'orderBy'> = {},
  ): Promise<Session<Data> | null> {
    const now = this.parts.clock.now();
    const where = this.where('findOne', filters, 'database', 'valid');
    const select = this.parts.statements.select(where, { limit: 1, orderBy: options.orderBy });
    let rows = await this.parts.runner.read<Record<string, unknown>[]>(select);
    // A replica may not have a session created a moment ago yet: the primary decides a miss.
    if (rows.length === 0 && this.parts.replicas.enabled) rows = await this.parts.runner.run(select);
    if (rows.length === 0) return null;
    const session = this.parts.rows.toSession(rows[0]) as Session<Data>;
    if (options.extend) await this.parts.sliding.slide(session, now, this.options.extendThreshold);
    return session;
  }

  /** Sessions matching the filters, newest first by default. */
  async list(filters: SessionFilters = {}, options: ListOptions = {}): Promise<Session<Data>[]> {
    const where = this.where('list', filters, 'database', 'valid');
    const rows = await this.parts.runner.read<Record<string, unknown>[]>(
      this.parts.statements.select(where, options ?? {}),
    );
    return rows.map((row) => this.parts.rows.toSession(row) as Session<Data>);
  }

  /** How many sessions match the filters. */
  async count(filters: SessionFilters = {}): Promise<number> {
    const where = this.where('count', filters, 'database', 'valid');
    const [row] = await this.parts.runner.read<Array<{ count: string | number }>>(this.parts.statements.count(where));
    return Number(row.count);
  }

  /**
   * Changes `data` and extra columns; returns the updated session, or `null`
   * when it no longer exists. `data` is replaced whole, or with `{ merge: true }`
   * merged into the stored one at the top level in the database, so concurrent
   * updates of different keys all survive.
   */
  async update(
    session: SessionOrId,
    attrs: UpdateSessionAttrs<Data>,
    options: { merge?: boolean } = {},
  ): Promise<Session<Data> | null> {
    const id = idOf('update', session);
    const { data, ...columns } = checkAttributes('update', attrs, this.options);
    if (!isUuid(id)) return null;
    const statement = this.parts.statements.update(
      id,
      { data, ...columns },
      this.parts.clock.now(),
      options?.merge === true,
    );
    const rows = await this.parts.revocations.revoke([id], () =>
      this.parts.runner.run<Record<string, unknown>[]>(statement),
    );
    return rows.length ? (this.parts.rows.toSession(rows[0]) as Session<Data>) : null;
  }

  /**
   * Slides the expiry to `now + ttl` (bounded by `absoluteTtl`) whatever the
   * threshold; this also revives an expired session. Returns the session as
   * it now is.
   */
  async extend(session: Session<Data>): Promise<Session<Data>> {
    if (!(session instanceof Session)) throw new TypeError(`extend: expected a session, got ${describeValue(session)}`);
    await this.parts.sliding.slide(session, this.parts.clock.now(), 0, false);
    return session;
  }

  /** Ends a session now, keeping its row; returns it, or `null` when it does not exist. */
  async expire(session: SessionOrId): Promise<Session<Data> | null> {
    const id = idOf('expire', session);
    if (!isUuid(id)) return null;
    const statement = this.parts.statements.expire(id, this.parts.clock.now());
    const rows = await this.parts.revocations.revoke([id], () =>
      this.parts.runner.run<Record<string, unknown>[]>(statement),
    );
    if (!rows.length) return null;
    const expired = this.parts.rows.toSession(rows[0]) as Session<Data>;
    this.parts.events.emit('expired', { kind: this.name, session: expired });
    return expired;
  }

  /** Deletes a session; `true` when a row was deleted. */
  async delete(session: SessionOrId): Promise<boolean> {
    const id = idOf('delete', session);
    if (!isUuid(id)) return false;
    const where = this.where('delete', { id, status: 'all' }, 'database', 'all');
    return (await this.parts.revocations.revoke([id], () => deleteWhere(this.parts, this.name, where))) > 0;
  }

  /**
   * Deletes every session matching the filters, whatever their status unless
   * `status` says otherwise; `exceptId` keeps one ("sign out everywhere else").
   * Returns how many were deleted.
   */
  async deleteAll(filters: SessionFilters & { exceptId?: string }): Promise<number> {
    const where = this.where('deleteAll', filters, 'database', 'all', true);
    return this.parts.revocations.revoke('all', () => deleteWhere(this.parts, this.name, where));
  }

  /** Deletes every expired session now, in one statement; returns how many. See also `prune()`. */
  async deleteExpired(): Promise<number> {
    return deleteWhere(
      this.parts,
      this.name,
      this.where('deleteExpired', { status: 'expired' }, 'database', 'expired'),
    );
  }

  /**
   * One pruning cycle (the seed's ExpiredSessionPruner), for `pruneInterval` or
   * your own scheduler: deletes rows expired for longer than `pruneGrace`, in
   * batches of `pruneBatchSize`, inside one transaction that first takes an
   * advisory lock keyed by the table. Returns how many rows it deleted, or `null`
   * when another instance holds the lock (it is pruning right now).
   */
  prune(): Promise<number | null> {
    return this.parts.pruner.prune();
  }

  /** Sets the token cookie (per the `cookie` option) on an Express response or a Fastify reply. */
  setCookie(response: ResponseLike, token: string): void {
    if (typeof token !== 'string' || token.length === 0)
      throw new TypeError('setCookie: token must be a non-empty string');
    appendSetCookie(response, sessionCookie(this.options.cookie, token));
  }

  /** Tells the browser to drop the token cookie. */
  clearCookie(response: ResponseLike): void {
    appendSetCookie(response, clearedSessionCookie(this.options.cookie));
  }

  private where(
    method: string,
    filters: SessionFilters,
    now: Date | 'database',
    status: 'valid' | 'all' | 'expired',
    allowExceptId = false,
  ): Where {
    return this.parts.statements.where(
      filters,
      now,
      (token) => this.parts.resolver.digestsOf(token),
      status,
      method,
      allowExceptId,
    );
  }
}
