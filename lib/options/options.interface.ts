import type { MikroORM } from '@mikro-orm/core';
import type { SessionEventHooks } from '../events/session-events.interface';
import type { ColumnType } from '../store/columns';

/** A duration: seconds as a number, or a string such as `'7d'`, `'12h'`, `'30m'` (parsed by `ms`). */
export type Duration = number | string;

export type { ColumnType } from '../store/columns';

/** An extra, typed column on the session table (the seed's `extra_fields`). */
export interface ColumnOptions {
  /** @default 'string' */
  type?: ColumnType;
  /** Whether an index is created for this column. @default false */
  index?: boolean;
  /** @default true */
  nullable?: boolean;
  /** Column name in the table. @default the property name in snake_case */
  fieldName?: string;
  /** Length of a `string` column. @default 255 */
  length?: number;
}

/** One place the guard looks for a token. */
export type TokenSource = { type: 'header'; name: string } | { type: 'bearer' } | { type: 'cookie'; name: string };

/** Attributes `setCookie` gives the token cookie. */
export interface SessionCookieOptions {
  /** @default 'auth_token' */
  name?: string;
  /** @default true */
  httpOnly?: boolean;
  /** Turn off only for local development over plain http. @default true */
  secure?: boolean;
  /** @default 'lax' */
  sameSite?: 'lax' | 'strict' | 'none';
  /** Starts with `/`. @default '/' */
  path?: string;
  /** Left out by default (host-only cookie), as the `__Host-` prefix requires; a non-empty string when given. */
  domain?: string;
  /** Whole seconds, at least 1. @default the kind's `ttl` (floored), or 400 days when `ttl` is null */
  maxAge?: number;
}

/** The opt-in session cache of a kind. */
export interface SessionCacheOptions {
  /** How long a cached session may be served without a lookup; bounds staleness if a revocation notice is lost. @default '30s' */
  ttl?: Duration;
  /** Most sessions kept (least recently used go first). @default 10000 */
  max?: number;
}

/** Token rotation of a kind (`rotate()`, and the guard's reissue with `every`). */
export interface RotationOptions {
  /** How long the token a rotation replaced keeps authenticating (requests in flight, other tabs); `0` = not at all. */
  grace: Duration;
  /**
   * The guard reissues a cookie-borne token older than this (counted from the last
   * rotation, else the login) and sends the new cookie. Header tokens are never
   * reissued: the client could not learn the new one. @default null (only `rotate()`)
   */
  every?: Duration | null;
}

/** The per-user cap of a kind's valid sessions. */
export interface MaxPerUserOptions {
  /** Most valid sessions one value of `column` may have. */
  max: number;
  /**
   * At the cap, `create` expires the oldest valid sessions (`'expireOldest'`) or
   * throws `SessionLimitError` (`'refuse'`). @default 'expireOldest'
   */
  onLimit?: 'expireOldest' | 'refuse';
  /** The extra column that names the user. @default 'userId' */
  column?: string;
}

/** Options of one kind of session (`EctoSessionsModule.forRoot`). */
export interface EctoSessionsOptions extends SessionEventHooks {
  /** The kind's name; each name has its own table, service and guard. @default 'default' */
  name?: string;
  /** Lifetime of a session; `null` = never expires. [seed: session_ttl] @default '7d' */
  ttl?: Duration | null;
  /** A successful `authenticate` slides the expiry forward. [seed: auto_extend_session] @default true */
  extendOnUse?: boolean;
  /**
   * Extend only when the new expiry would move by more than this; `0` = every use,
   * `null` = never. Must be less than `ttl`. [seed: extend_session_stale_time]
   * @default '1d' (or ttl / 7 when that is shorter)
   */
  extendThreshold?: Duration | null;
  /** A session is never valid past `insertedAt + absoluteTtl`, whatever the sliding does. @default null (none) */
  absoluteTtl?: Duration | null;
  /** Characters in a token, at least 22 (128 bits). [seed: auth_token_length] @default 64 */
  tokenLength?: number;
  /** Any `crypto.getHashes()` name; `null` stores tokens in plaintext (warned). [seed: hashing_algorithm] @default 'sha256' */
  hashAlgorithm?: string | null;
  /** Pepper; a list rotates: the first hashes new tokens, all are accepted. [seed: secret_salt] @default none */
  secret?: string | string[] | null;
  /** [seed: table_name] @default 'sessions' */
  tableName?: string;
  /** PostgreSQL schema of the table. [seed: prefix] @default the ORM's default */
  schema?: string;
  /** Extra typed columns. [seed: extra_fields] @default { userId: { type: 'string', index: true } } */
  columns?: Record<string, ColumnOptions>;
  /** Where the guard looks for the token, in order. @default header `x-auth-token`, `Authorization: Bearer`, cookie `auth_token` */
  tokenFrom?: TokenSource[];
  /** Attributes of the cookie `setCookie` writes. @default HttpOnly; Secure; SameSite=Lax; Path=/; Max-Age=ttl */
  cookie?: SessionCookieOptions;
  /** Seconds (or a duration string) between deletions of expired rows; `null` = off. @default null */
  pruneInterval?: Duration | null;
  /** How long expired rows are kept (for audit) before pruning deletes them. @default 0 */
  pruneGrace?: Duration;
  /** Rows deleted per statement when pruning, so no statement runs long. @default 10000 */
  pruneBatchSize?: number;
  /**
   * Prepended to every token (e.g. `'sk_live_'`) so secret scanners can spot leaked
   * ones; tokens without it are refused before any hashing or query. Characters:
   * letters, digits, `_` and `-`. @default '' (none: tokens stay compatible with the Elixir library)
   */
  tokenPrefix?: string;
  /**
   * Longest wait for the guard's lookup (and its extension write), including the
   * wait for a pooled connection; past it `authenticate` throws
   * `SessionsTimeoutError` and the guard answers 503. @default null (the pool's and driver's own limits)
   */
  statementTimeout?: Duration | null;
  /**
   * An in-process LRU of valid sessions, keyed by digest: a cached request costs no
   * query. Revocations (`delete`, `deleteAll`, `expire`, `update`) take effect at
   * once here and, through PostgreSQL LISTEN/NOTIFY, in every other instance; while
   * that channel is down the cache is bypassed. `true` takes the defaults. @default false (off)
   */
  cache?: SessionCacheOptions | boolean;
  /**
   * With `replicas` in the MikroORM config, whether lookups (`authenticate`, the
   * guard) and `findOne`/`list`/`count` read a replica, lag-safe: a replica's
   * answer counts only once it has replayed past every revocation this instance
   * knows of; otherwise, and on a miss, the primary answers. Writes always go to
   * the primary. @default the ORM's `preferReadReplicas` (true)
   */
  preferReadReplicas?: boolean;
  /**
   * A connection string straight to the primary for the kind's listening
   * connection (LISTEN/NOTIFY), when the app's connections go through a
   * transaction pooler (PgBouncer, Supavisor, Neon's pooler, RDS Proxy), which
   * cannot hold a LISTEN. Without it behind a pooler, the cache stays bypassed
   * and replica reads stay on the primary. @default the ORM's own connection settings
   */
  listenUrl?: string;
  /**
   * Token rotation: `rotate()` gives a session a new token; the one it replaced
   * keeps authenticating for `grace`, an older one never. Adds the columns
   * `previous_auth_token_digest` (indexed) and `rotated_at`. @default null (off)
   */
  rotation?: RotationOptions | null;
  /**
   * Scopes (abilities) on each session: `create({ scopes })`, `update(s, { scopes })`,
   * `@Authenticated({ scopes })`. Adds the jsonb column `scopes`. @default false
   */
  scopes?: boolean;
  /**
   * Records `lastUsedAt` on successful authentications, written at most once per
   * this interval per session, however many requests race. Adds the column
   * `last_used_at`. @default null (off: no write at all)
   */
  trackLastUsed?: Duration | null;
  /** At most `max` valid sessions per user, enforced atomically at `create`. @default null (no cap) */
  maxPerUser?: MaxPerUserOptions | null;
  /** MikroORM entity name of this kind. @default 'Session' for the default kind, else `<Name>Session` */
  entityName?: string;
  /** A MikroORM instance to use instead of the one `@mikro-orm/nestjs` provides. @default the injected `MikroORM` */
  orm?: MikroORM;
}

/** What `forRoot` options become once defaults are applied and checked (durations in seconds). */
export interface ResolvedSessionsOptions extends SessionEventHooks {
  name: string;
  ttl: number | null;
  extendOnUse: boolean;
  extendThreshold: number | null;
  absoluteTtl: number | null;
  tokenLength: number;
  hashAlgorithm: string | null;
  secrets: string[];
  tableName: string;
  schema: string | undefined;
  columns: Record<string, Required<Omit<ColumnOptions, 'length'>> & { length: number }>;
  tokenFrom: TokenSource[];
  cookie: Required<Omit<SessionCookieOptions, 'domain'>> & { domain?: string };
  pruneInterval: number | null;
  pruneGrace: number;
  pruneBatchSize: number;
  tokenPrefix: string;
  cache: { ttl: number; max: number } | null;
  statementTimeout: number | null;
  preferReadReplicas: boolean | null;
  listenUrl: string | null;
  rotation: { grace: number; every: number | null } | null;
  scopes: boolean;
  trackLastUsed: number | null;
  maxPerUser: { max: number; onLimit: 'expireOldest' | 'refuse'; column: string } | null;
  entityName: string;
  orm: MikroORM | undefined;
}
