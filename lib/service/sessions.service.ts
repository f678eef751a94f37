import { randomUUID } from 'node:crypto';
import type { EntitySchema, MikroORM, Transaction } from '@mikro-orm/core';
import { Logger, type OnApplicationBootstrap, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { ModuleRef } from '@nestjs/core';
import type {
  AuthenticateOptions,
  CreateSessionAttrs,
  ListOptions,
  SessionFilters,
  UpdateSessionAttrs,
} from './filters.interface';
import { appendSetCookie, clearedSessionCookie, type ResponseLike, sessionCookie } from '../http/cookies';
import type { ResolvedSessionsOptions } from '../options/options.interface';
import { CacheInvalidationListener, type InvalidationMessage } from '../cache/invalidation';
import { DirectQuery } from '../store/direct-query';
import { SessionCache } from '../cache/session-cache';
import { SessionEvents } from '../events/session-events';
import { Session, sessionEntity } from '../store/session.entity';
import { isPlainObject, isUuid, type Statement, SessionStatements, type Where } from '../store/statements';
import { describe, digest, generateToken, isWellFormedToken } from '../tokens/auth-token';

/** Bound on the memo of recent extensions (see `writeExtension`). */
const RECENT_EXTENSIONS = 10_000;

/** A session or its id. */
export type SessionOrId = Session | string;

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
  private readonly statements: SessionStatements;
  private readonly events: SessionEvents;
  private readonly logger = new Logger('EctoSessions');
  /** Session id → the expiry (ms) an extension already wrote or is writing. */
  private readonly recentExtensions = new Map<string, number>();
  /** Sessions whose expiry this process has just moved forward: the guard then sends their cookie again. */
  private readonly extended = new WeakSet<object>();
  private pruneTimer: NodeJS.Timeout | undefined;
  private pruning: Promise<number | null> | undefined;
  private readonly cache: SessionCache | undefined;
  private readonly listener: CacheInvalidationListener | undefined;
  private readonly direct: DirectQuery | undefined;

  constructor(
    /** The kind's options, defaults applied. */
    readonly options: ResolvedSessionsOptions,
    private readonly orm: MikroORM,
    private readonly moduleRef?: ModuleRef,
  ) {
    this.entity = sessionEntity(options);
    this.statements = new SessionStatements(options);
    this.events = new SessionEvents(options);
    this.direct = DirectQuery.of(orm);
    if (options.cache) {
      const cache = new SessionCache(options.cache);
      this.cache = cache;
      this.listener = new CacheInvalidationListener(
        orm,
        this.statements.table,
        (message) => this.onInvalidation(message),
        (listening) => cache.setUsable(listening),
      );
    }
  }

  /** Finds the app's event emitter once every provider exists; starts listening for revocations. */
  async onModuleInit(): Promise<void> {
    this.events.connect(this.moduleRef);
    // Not awaited: an unreachable database must not hold start-up; the cache serves once listening.
    void this.listener?.start();
  }

  /** Whether the cache is on, serving (it is bypassed while revocations cannot be heard), and how full. */
  get cacheStatus(): { enabled: boolean; serving: boolean; size: number } {
    return { enabled: !!this.cache, serving: this.cache?.isUsable ?? false, size: this.cache?.size ?? 0 };
  }

  /** Starts pruning on `pruneInterval`, once the app (and its database) is up. */
  onApplicationBootstrap(): void {
    const interval = this.options.pruneInterval;
    if (interval === null || this.pruneTimer) return;
    this.pruneTimer = setInterval(() => void this.pruneInBackground(), interval * 1000);
    this.pruneTimer.unref(); // never keeps the process alive
  }

  /** Stops the pruning timer and waits for a running cycle, before the ORM closes. */
  async onModuleDestroy(): Promise<void> {
    clearInterval(this.pruneTimer);
    this.pruneTimer = undefined;
    await this.pruning?.catch(() => undefined);
    await this.listener?.stop();
  }

  /** The kind's name. */
  get name(): string {
    return this.options.name;
  }

  /**
   * Creates a session. The returned `token` is the only copy of the plaintext:
   * hand it to the client; only its digest is stored.
   */
  async create(attrs: CreateSessionAttrs<Data> = {}): Promise<{ session: Session<Data>; token: string }> {
    if (!isPlainObject(attrs)) throw new TypeError(`create: attributes must be a plain object, got ${describe(attrs)}`);
    const { data = {} as Data, ...columns } = attrs;
    assertData('create', data);
    this.assertColumns('create', columns);
    const token = this.options.tokenPrefix + generateToken(this.options.tokenLength);
    const now = new Date();
    const [row] = await this.run<Record<string, unknown>[]>(
      this.statements.insert({
        ...columns,
        id: randomUUID(),
        authTokenDigest: digest(token, this.options.hashAlgorithm, this.options.secrets[0]),
        data,
        expiresAt: this.expiryFrom(now, now),
        insertedAt: now,
        updatedAt: now,
      }),
    );
    const session = this.statements.toSession(row) as Session<Data>;
    this.events.emit('created', { kind: this.name, session });
    return { session, token };
  }

  /**
   * The valid session of a token, or `null`. One indexed lookup; one conditional
   * UPDATE more only when the expiry would move by more than `extendThreshold`.
   * A token that cannot be one of ours is refused before hashing or querying.
   */
  async authenticate(token: unknown, options: AuthenticateOptions = {}): Promise<Session<Data> | null> {
    return this.resolveToken(token, options?.extend ?? this.options.extendOnUse);
  }

  /**
   * `authenticate` for the guard: answers without a promise when it can (a
   * token that cannot be ours, a cached session needing no extension), so
   * those requests cost no microtask; otherwise the lookup's promise.
   * @internal
   */
  resolveToken(
    token: unknown,
    extend = this.options.extendOnUse,
  ): Session<Data> | null | Promise<Session<Data> | null> {
    if (!isWellFormedToken(token, this.options.tokenLength, this.options.tokenPrefix)) return null;
    const now = new Date();
    const digests = this.digestsOf(token); // once per request, cached or not
    const cached = this.validCached(digests[0], now);
    if (cached) return extend ? this.extendIfStale(cached, now, this.options.extendThreshold) : cached;
    return this.lookUp(digests, now, extend);
  }

  private lookUp(digests: string[], now: Date, extend: boolean): Promise<Session<Data> | null> {
    const stamp = this.cache?.stamp ?? 0;
    return this.bounded(this.runHot(this.statements.lookup(digests))).then((rows) => {
      if (rows.length === 0) return null;
      const session = this.statements.toSession(rows[0]) as Session<Data>;
      if (this.cache) this.cache.set(digests[0], this.statements.toSession(rows[0]), stamp);
      return extend ? this.extendIfStale(session, now, this.options.extendThreshold) : session;
    });
  }

  /** The first session matching the filters (newest first), or `null`. */
  async findOne(
    filters: SessionFilters,
    options: AuthenticateOptions & Pick<ListOptions, 'orderBy'> = {},
  ): Promise<Session<Data> | null> {
    const now = new Date();
    const where = this.where('findOne', filters, 'database', 'valid');
    const rows = await this.run<Record<string, unknown>[]>(
      this.statements.select(where, { limit: 1, orderBy: options.orderBy }),
    );
    if (rows.length === 0) return null;
    const session = this.statements.toSession(rows[0]) as Session<Data>;
    return options.extend ? this.extendIfStale(session, now, this.options.extendThreshold) : session;
  }

  /** Sessions matching the filters, newest first by default. */
  async list(filters: SessionFilters = {}, options: ListOptions = {}): Promise<Session<Data>[]> {
    const where = this.where('list', filters, 'database', 'valid');
    const rows = await this.run<Record<string, unknown>[]>(this.statements.select(where, options ?? {}));
    return rows.map((row) => this.statements.toSession(row) as Session<Data>);
  }

  /** How many sessions match the filters. */
  async count(filters: SessionFilters = {}): Promise<number> {
    const where = this.where('count', filters, 'database', 'valid');
    const [row] = await this.run<Array<{ count: string | number }>>(this.statements.count(where));
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
    if (!isPlainObject(attrs)) throw new TypeError(`update: attributes must be a plain object, got ${describe(attrs)}`);
    const { data, ...columns } = attrs;
    if (data !== undefined) assertData('update', data);
    this.assertColumns('update', columns);
    if (!isUuid(id)) return null;
    const rows = await this.revoking([id], () =>
      this.run<Record<string, unknown>[]>(
        this.statements.update(id, { data, ...columns }, new Date(), options?.merge === true),
      ),
    );
    return rows.length ? (this.statements.toSession(rows[0]) as Session<Data>) : null;
  }

  /**
   * Slides the expiry to `now + ttl` (bounded by `absoluteTtl`) whatever the
   * threshold; this also revives an expired session. Returns the session as
   * it now is.
   */
  async extend(session: Session<Data>): Promise<Session<Data>> {
    if (!(session instanceof Session)) throw new TypeError(`extend: expected a session, got ${describe(session)}`);
    return this.extendIfStale(session, new Date(), 0, false);
  }

  /** Ends a session now, keeping its row; returns it, or `null` when it does not exist. */
  async expire(session: SessionOrId): Promise<Session<Data> | null> {
    const id = idOf('expire', session);
    if (!isUuid(id)) return null;
    const rows = await this.revoking([id], () =>
      this.run<Record<string, unknown>[]>(this.statements.expire(id, new Date())),
    );
    if (!rows.length) return null;
    const expired = this.statements.toSession(rows[0]) as Session<Data>;
    this.events.emit('expired', { kind: this.name, session: expired });
    return expired;
  }

  /** Deletes a session; `true` when a row was deleted. */
  async delete(session: SessionOrId): Promise<boolean> {
    const id = idOf('delete', session);
    if (!isUuid(id)) return false;
    const where = this.where('delete', { id, status: 'all' }, 'database', 'all');
    return (await this.revoking([id], () => this.deleteWhere(where))) > 0;
  }

  /**
   * Deletes every session matching the filters, whatever their status unless
   * `status` says otherwise; `exceptId` keeps one ("sign out everywhere else").
   * Returns how many were deleted.
   */
  async deleteAll(filters: SessionFilters & { exceptId?: string }): Promise<number> {
    const where = this.where('deleteAll', filters, 'database', 'all');
    return this.revoking('all', () => this.deleteWhere(where));
  }

  /** Deletes every expired session now, in one statement; returns how many. See also `prune()`. */
  async deleteExpired(): Promise<number> {
    return this.deleteWhere(this.where('deleteExpired', { status: 'expired' }, 'database', 'expired'));
  }

  /**
   * One pruning cycle (the seed's ExpiredSessionPruner), for `pruneInterval` or
   * your own scheduler: deletes rows expired for longer than `pruneGrace`, in
   * batches of `pruneBatchSize`, inside one transaction that first takes an
   * advisory lock keyed by the table. Returns how many rows it deleted, or `null`
   * when another instance holds the lock (it is pruning right now).
   */
  async prune(): Promise<number | null> {
    const connection = this.orm.em.getConnection();
    const deleted = await connection.transactional(async (trx) => {
      const [{ locked, now }] = await this.run<Array<{ locked: boolean; now: string }>>(
        this.statements.pruneLock(),
        'all',
        trx,
      );
      if (!locked) return null;
      // The cutoff by the database's clock, as a plain bound: the expires_at index serves it.
      const cutoff = new Date(Number(now) - this.options.pruneGrace * 1000);
      const expired = this.where('prune', { status: 'expired' }, cutoff, 'expired');
      const batch = this.statements.pruneBatch(expired, this.options.pruneBatchSize);
      let total = 0;
      for (;;) {
        const { affectedRows } = await this.run<{ affectedRows: number }>(batch, 'run', trx);
        total += affectedRows;
        if (affectedRows < this.options.pruneBatchSize) return total;
      }
    });
    if (deleted === null) {
      this.logger.debug(`Pruning of "${this.options.tableName}" skipped: another instance holds the lock`);
    } else {
      this.logger[deleted > 0 ? 'log' : 'debug'](`Pruned ${deleted} expired sessions from "${this.options.tableName}"`);
      if (deleted > 0) this.events.emit('pruned', { kind: this.name, count: deleted });
    }
    return deleted;
  }

  /** A timer's cycle: one at a time, and a failure (database away) is logged, never thrown. */
  private async pruneInBackground(): Promise<void> {
    if (this.pruning) return;
    this.pruning = this.prune();
    try {
      await this.pruning;
    } catch (error) {
      this.logger.warn(
        `Pruning of "${this.options.tableName}" failed: ${(error as Error)?.name ?? 'error'}; retrying next cycle`,
      );
    } finally {
      this.pruning = undefined;
    }
  }

  /** Sets the token cookie (per the `cookie` option) on an Express response or a Fastify reply. */
  setCookie(response: ResponseLike, token: string): void {
    if (typeof token !== 'string' || token.length === 0)
      throw new TypeError('setCookie: token must be a non-empty string');
    appendSetCookie(response, sessionCookie(this.options.cookie, token));
  }

  /**
   * Whether this session object's expiry was just moved forward by this
   * process (the guard then refreshes a cookie-borne token).
   * @internal
   */
  wasExtended(session: Session<Data>): boolean {
    return this.extended.has(session);
  }

  /**
   * The token cookie again, living until the session's new expiry: sent when a
   * sliding extension moved it, so an active browser's cookie does not run out
   * before its session does.
   * @internal
   */
  refreshCookie(response: ResponseLike, token: string, session: Session<Data>): void {
    const maxAge =
      session.expiresAt === null
        ? this.options.cookie.maxAge
        : Math.max(0, Math.ceil((session.expiresAt.getTime() - Date.now()) / 1000));
    appendSetCookie(response, sessionCookie({ ...this.options.cookie, maxAge }, token));
  }

  /** Tells the browser to drop the token cookie. */
  clearCookie(response: ResponseLike): void {
    appendSetCookie(response, clearedSessionCookie(this.options.cookie));
  }

  /**
   * Runs a statement that revokes or changes sessions, dropping them from the
   * cache before and after it (a concurrent miss may re-cache the old row in
   * between) and telling other instances, inside the caller's transaction if any.
   */
  private async revoking<T>(ids: string[] | 'all', statement: () => Promise<T>): Promise<T> {
    const forget = () => {
      if (ids === 'all') {
        this.recentExtensions.clear();
        this.cache?.clear();
      } else {
        for (const id of ids) this.recentExtensions.delete(id);
        this.cache?.invalidate(ids);
      }
    };
    forget();
    const result = await statement();
    forget();
    if (this.cache && this.listener) {
      try {
        const inTransaction = !!this.orm.em.getContext(false).getTransactionContext();
        const heard = await this.listener.announce(ids, (statement) => this.run(statement), inTransaction);
        if (!heard)
          this.logger.warn(
            `A "${this.name}" revocation was not acknowledged by every instance in time: a slow one may serve the session from its cache until it hears it`,
          );
      } catch (error) {
        // The change itself went through; other instances' caches expire it within `cache.ttl`.
        this.logger.warn(`Announcing a "${this.name}" revocation failed (${(error as Error)?.name ?? 'error'})`);
      }
    }
    return result;
  }

  private onInvalidation(message: InvalidationMessage): void {
    if (message?.table !== this.statements.table) return;
    if (message.all) this.cache?.clear();
    else if (Array.isArray(message.ids)) this.cache?.invalidate(message.ids);
  }

  /** The cached session of a digest while valid; one past its expiry may have been extended elsewhere, so the database decides. */
  private validCached(digest: string, now: Date): Session<Data> | undefined {
    const session = this.cache?.get(digest) as Session<Data> | undefined;
    return session && this.isValidAt(session, now) ? session : undefined;
  }

  /** Whether a session is valid at `now`: not expired, and within `absoluteTtl`. */
  private isValidAt(session: Session, now: Date): boolean {
    const { absoluteTtl } = this.options;
    if (session.expiresAt !== null && session.expiresAt.getTime() <= now.getTime()) return false;
    return absoluteTtl === null || session.insertedAt.getTime() > now.getTime() - absoluteTtl * 1000;
  }

  /** The digests a token may be stored under: one per accepted secret. */
  digestsOf(token: string): string[] {
    const { hashAlgorithm, secrets } = this.options;
    if (secrets.length === 0) return [digest(token, hashAlgorithm)];
    return secrets.map((secret) => digest(token, hashAlgorithm, secret));
  }

  /**
   * The expiry to write when the session's would move by more than `threshold`,
   * else `null` (bringing `expiresAt` up to an extension this process already made).
   */
  private staleBy(session: Session<Data>, now: Date, threshold: number | null): Date | null {
    if (threshold === null || session.expiresAt === null || this.options.ttl === null) return null;
    const target = this.expiryMs(session.insertedAt, now); // a number: most requests need no Date
    const known = Math.max(session.expiresAt.getTime(), this.recentExtensions.get(session.id) ?? 0);
    if (target !== Infinity && target - known > threshold * 1000) return new Date(target);
    if (known > session.expiresAt.getTime()) session.expiresAt = new Date(known);
    return null;
  }

  /**
   * Writes a later expiry when it moves by more than `threshold` seconds (the
   * session itself, without a promise, when it does not). The write is
   * conditional, so concurrent requests (here or in other processes) extend
   * once and a deleted row stays deleted; the memo of recent extensions keeps
   * concurrent requests in this process from even sending it.
   */
  private extendIfStale(
    session: Session<Data>,
    now: Date,
    threshold: number | null,
    whileValid = true,
  ): Session<Data> | Promise<Session<Data>> {
    const target = this.staleBy(session, now, threshold);
    return target === null ? session : this.writeExtension(session, target, now, threshold, whileValid);
  }

  private async writeExtension(
    session: Session<Data>,
    target: Date,
    now: Date,
    threshold: number | null,
    whileValid: boolean,
  ): Promise<Session<Data>> {
    if (this.recentExtensions.size >= RECENT_EXTENSIONS) this.recentExtensions.clear();
    this.recentExtensions.set(session.id, target.getTime());
    try {
      const rows = await this.bounded(
        this.runHot(this.statements.extend(session.id, target, now, threshold ?? 0, whileValid)),
      );
      if (rows.length) {
        session.expiresAt = target;
        session.updatedAt = now;
        this.extended.add(session);
        this.cache?.patch(session.id, target, now);
        this.events.emit('extended', { kind: this.name, session });
      } else {
        // Moved or deleted elsewhere: forget the target we did not write, read it afresh next time.
        this.recentExtensions.delete(session.id);
        this.cache?.invalidate([session.id]);
      }
      return session;
    } catch (error) {
      this.recentExtensions.delete(session.id);
      // A sliding extension is a courtesy: the session was found valid, so a failed write must not refuse it.
      if (!whileValid) throw error;
      this.logger.warn(
        `Extending a "${this.name}" session failed (${(error as Error)?.name ?? 'error'}); it keeps its expiry`,
      );
      return session;
    }
  }

  /** `now + ttl`, never past `insertedAt + absoluteTtl`; `null` = never expires. */
  private expiryFrom(insertedAt: Date, now: Date): Date | null {
    const expiry = this.expiryMs(insertedAt, now);
    return expiry === Infinity ? null : new Date(expiry);
  }

  /** `expiryFrom` in epoch milliseconds; `Infinity` = never expires. */
  private expiryMs(insertedAt: Date, now: Date): number {
    const { ttl, absoluteTtl } = this.options;
    const sliding = ttl === null ? Infinity : now.getTime() + ttl * 1000;
    const absolute = absoluteTtl === null ? Infinity : insertedAt.getTime() + absoluteTtl * 1000;
    return Math.min(sliding, absolute);
  }

  private where(
    method: string,
    filters: SessionFilters,
    now: Date | 'database',
    status: 'valid' | 'all' | 'expired',
  ): Where {
    return this.statements.where(
      filters,
      now,
      (token) =>
        isWellFormedToken(token, this.options.tokenLength, this.options.tokenPrefix) ? this.digestsOf(token) : [],
      status,
      method,
    );
  }

  /** Deletes; when someone listens to `deleted`, gets the rows back to report each one. */
  private async deleteWhere(where: Where): Promise<number> {
    if (!this.events.listens('deleted')) {
      const result = await this.run<{ affectedRows: number }>(this.statements.delete(where), 'run');
      return result.affectedRows;
    }
    const rows = await this.run<Record<string, unknown>[]>(this.statements.delete(where, true));
    for (const row of rows) this.events.emit('deleted', { kind: this.name, session: this.statements.toSession(row) });
    return rows.length;
  }

  private assertColumns(method: string, columns: Record<string, unknown>): void {
    for (const key of Object.keys(columns)) {
      if (!(key in this.options.columns)) {
        throw new TypeError(
          `${method}: unknown attribute "${key}"; known: data, ${Object.keys(this.options.columns).join(', ')}`,
        );
      }
    }
  }

  /**
   * The hot path's statements, bounded by `statementTimeout`: the caller gets a
   * `SessionsTimeoutError` in time (the guard answers 503); the statement itself
   * finishes or fails in the background, its connection going back to the pool.
   */
  private bounded<T>(statement: Promise<T>): Promise<T> {
    const limit = this.options.statementTimeout;
    if (limit === null) return statement;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new SessionsTimeoutError(this.name, limit)), limit * 1000);
    });
    statement.catch(() => undefined); // once abandoned, its failure is nobody's to handle
    return Promise.race([statement, timeout]).finally(() => clearTimeout(timer));
  }

  /** The guard's statements: straight to a pooled connection when possible (see `DirectQuery`). */
  private runHot(statement: Statement): Promise<Record<string, unknown>[]> {
    const em = this.orm.em.getContext(false);
    if (this.direct && !em.getTransactionContext()) return this.direct.rows(statement.sql, statement.params);
    return this.run(statement);
  }

  /**
   * Sends one statement through the ORM's connection, inside the current
   * transaction when the caller is in one (`em.transactional`). Nothing goes
   * through an identity map, so nothing leaks between requests.
   */
  private run<T>(statement: Statement, method: 'all' | 'run' = 'all', transaction?: Transaction): Promise<T> {
    const em = this.orm.em.getContext(false);
    const trx = transaction ?? em.getTransactionContext();
    return em.getConnection().execute(statement.sql, statement.params, method, trx) as Promise<T>;
  }
}

/** The database did not answer within `statementTimeout`. */
export class SessionsTimeoutError extends Error {
  constructor(kind: string, seconds: number) {
    super(`EctoSessions (kind "${kind}"): the database did not answer within ${seconds} s`);
    this.name = 'SessionsTimeoutError';
  }
}

function idOf(method: string, session: unknown): string {
  if (typeof session === 'string') return session;
  if (typeof session === 'object' && session !== null && typeof (session as Session).id === 'string') {
    return (session as Session).id;
  }
  throw new TypeError(`${method}: expected a session or its id, got ${describe(session)}`);
}

function assertData(method: string, data: unknown): void {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new TypeError(`${method}: data must be a JSON object, got ${describe(data)}`);
  }
}
