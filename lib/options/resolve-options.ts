import { Logger } from '@nestjs/common';
import { sessionCookie } from '../http/cookies';
import { parseDuration } from './duration';
import type {
  ColumnOptions,
  ColumnType,
  EctoSessionsOptions,
  ResolvedSessionsOptions,
  TokenSource,
} from './options.interface';
import { DEFAULT_KIND } from '../constants';
import { assertTokenLength, DEFAULT_TOKEN_LENGTH, describe, isHashAlgorithm } from '../tokens/auth-token';

const DAY = 86_400;
/** Browsers cap cookie lifetimes at 400 days; used for `ttl: null`. */
const LONGEST_COOKIE = 400 * DAY;

const HOOKS = ['onCreated', 'onExtended', 'onExpired', 'onDeleted', 'onPruned'] as const;

const OPTION_NAMES: ReadonlySet<string> = new Set<keyof EctoSessionsOptions>([
  'name',
  'ttl',
  'extendOnUse',
  'extendThreshold',
  'absoluteTtl',
  'tokenLength',
  'hashAlgorithm',
  'secret',
  'tableName',
  'schema',
  'columns',
  'tokenFrom',
  'cookie',
  'pruneInterval',
  'pruneGrace',
  'pruneBatchSize',
  'tokenPrefix',
  'cache',
  'statementTimeout',
  'entityName',
  'orm',
  ...HOOKS,
]);
const COLUMN_TYPES: ReadonlySet<string> = new Set<ColumnType>([
  'string',
  'text',
  'uuid',
  'integer',
  'bigint',
  'double',
  'boolean',
  'json',
  'datetime',
]);
/** Properties every session has; an extra column may not reuse them. */
const BUILT_IN_PROPERTIES = new Set([
  'id',
  'authTokenDigest',
  'data',
  'expiresAt',
  'insertedAt',
  'updatedAt',
  'isExpired',
]);
const SAME_SITE = new Set(['lax', 'strict', 'none']);
const COOKIE_KEYS = new Set(['name', 'httpOnly', 'secure', 'sameSite', 'path', 'domain', 'maxAge']);

/** Node's timers take at most 2^31 - 1 ms; a longer delay would fire at once. */
const LONGEST_TIMER = 2_147_483;
/**
 * MD5 and SHA-1 under any of OpenSSL's names (`md5`, `RSA-MD5`, `ssl3-md5`,
 * `md5-sha1`, `sha1`, `sha-1`, `RSA-SHA1`, `sha1WithRSAEncryption`…): broken
 * digests, accepted (tables made by another app may use them) but warned about.
 */
const WEAK_DIGEST = /md5|sha-?1(?![0-9])/i;
/** Columns every session table has; an extra column may not reuse them. */
const BUILT_IN_COLUMNS = new Set(['id', 'auth_token_digest', 'data', 'expires_at', 'inserted_at', 'updated_at']);

/**
 * A PostgreSQL identifier the library can quote: up to 63 characters, no NUL, and
 * no `?`, which the statements use as their parameter placeholder.
 */
function isIdentifier(name: unknown): name is string {
  return typeof name === 'string' && /^[^\0?]{1,63}$/.test(name);
}

/** The default extra columns: the seed demo's `user_id`. */
export const DEFAULT_COLUMNS: Record<string, ColumnOptions> = { userId: { type: 'string', index: true } };

/** A bad option: thrown at start-up, naming the option and the kind. */
export class SessionsOptionsError extends Error {
  constructor(kind: string, option: string, problem: string) {
    super(`EctoSessionsModule (kind "${kind}"): option "${option}" ${problem}`);
    this.name = 'SessionsOptionsError';
  }
}

/**
 * Applies every default and checks every option, for `forRoot` and `forRootAsync`
 * alike. Throws a {@link SessionsOptionsError} naming the first bad option.
 */
export function resolveSessionsOptions(options: EctoSessionsOptions = {}): ResolvedSessionsOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new SessionsOptionsError(DEFAULT_KIND, 'options', `must be an object, got ${describe(options)}`);
  }
  const kind = options.name ?? DEFAULT_KIND;
  const fail = (option: string, problem: string): never => {
    throw new SessionsOptionsError(String(kind), option, problem);
  };
  if (typeof kind !== 'string' || !/^[A-Za-z][A-Za-z0-9_-]*$/.test(kind)) {
    fail('name', `must be a word of letters, digits, "_" or "-", got ${describe(kind)}`);
  }
  for (const key of Object.keys(options)) {
    if (!OPTION_NAMES.has(key)) fail(key, `is not an option; known options: ${[...OPTION_NAMES].join(', ')}`);
  }

  const duration = (option: keyof EctoSessionsOptions, fallback: number | null): number | null => {
    const value = options[option];
    if (value === undefined) return fallback;
    if (value === null) return null;
    const seconds = parseDuration(value);
    if (seconds === undefined) {
      fail(option, `must be a number of seconds >= 0 or a duration such as '7d' or '12h', got ${describe(value)}`);
    }
    return seconds!;
  };
  const bool = (option: keyof EctoSessionsOptions, fallback: boolean): boolean => {
    const value = options[option];
    if (value === undefined) return fallback;
    if (typeof value !== 'boolean') fail(option, `must be true or false, got ${describe(value)}`);
    return value as boolean;
  };

  const ttl = duration('ttl', 7 * DAY);
  if (ttl === 0) fail('ttl', 'must be more than 0 seconds (or null for sessions that never expire)');
  const absoluteTtl = duration('absoluteTtl', null);
  if (absoluteTtl === 0) fail('absoluteTtl', 'must be more than 0 seconds (or null for no absolute limit)');

  const tokenLength = options.tokenLength ?? DEFAULT_TOKEN_LENGTH;
  try {
    assertTokenLength(tokenLength, 'must be');
  } catch (error) {
    fail('tokenLength', (error as Error).message.replace(/^must be must be/, 'must be'));
  }

  const hashAlgorithm = options.hashAlgorithm === undefined ? 'sha256' : options.hashAlgorithm;
  if (hashAlgorithm !== null && !isHashAlgorithm(hashAlgorithm)) {
    fail('hashAlgorithm', `must be one of crypto.getHashes() or null, got ${describe(hashAlgorithm)}`);
  }
  const secrets = resolveSecrets(options.secret, fail);
  if (hashAlgorithm === null && secrets.length > 0) {
    fail('secret', 'needs a hashAlgorithm: a secret without hashing is refused');
  }
  if (hashAlgorithm === null) {
    new Logger('EctoSessions').warn(
      `Kind "${kind}" stores tokens in plaintext (hashAlgorithm: null): anyone who reads the table can use them.`,
    );
  } else if (WEAK_DIGEST.test(hashAlgorithm)) {
    new Logger('EctoSessions').warn(
      `Kind "${kind}" uses hashAlgorithm "${hashAlgorithm}", a weak digest (MD5 or SHA-1): prefer 'sha256' (the default).`,
    );
  }

  const tableName = options.tableName ?? (kind === DEFAULT_KIND ? 'sessions' : snakeCase(kind));
  if (!isIdentifier(tableName))
    fail('tableName', `must be a table name of 1 to 63 characters, got ${describe(tableName)}`);
  const schema = options.schema;
  if (schema !== undefined && !isIdentifier(schema)) {
    fail('schema', `must be a schema name of 1 to 63 characters, got ${describe(schema)}`);
  }
  const columns = resolveColumns(options.columns ?? DEFAULT_COLUMNS, fail);
  const cookie = resolveCookie(options, ttl, fail);
  const tokenFrom = resolveTokenSources(options.tokenFrom, cookie.name, fail);

  // Default: a day, as the seed, but never so large that a short ttl would never slide.
  const extendThreshold = duration('extendThreshold', ttl === null ? DAY : Math.min(DAY, ttl / 7));
  if (extendThreshold !== null && ttl !== null && options.extendThreshold !== undefined && extendThreshold >= ttl) {
    fail('extendThreshold', `must be less than ttl (${ttl} s), or sessions would never be extended; use null for that`);
  }

  const pruneInterval = duration('pruneInterval', null);
  if (pruneInterval === 0) fail('pruneInterval', 'must be more than 0 seconds (or null to turn pruning off)');
  if (pruneInterval !== null && pruneInterval > LONGEST_TIMER)
    fail('pruneInterval', `must be at most ${LONGEST_TIMER} seconds (about 24 days)`);

  const pruneGrace = duration('pruneGrace', 0)!;
  if (pruneGrace === null) fail('pruneGrace', 'must be a duration (0 for none)');
  const pruneBatchSize = options.pruneBatchSize ?? 10_000;
  if (!Number.isInteger(pruneBatchSize) || pruneBatchSize < 1 || pruneBatchSize > 1_000_000) {
    fail('pruneBatchSize', `must be a whole number from 1 to 1000000, got ${describe(pruneBatchSize)}`);
  }
  const tokenPrefix = options.tokenPrefix ?? '';
  if (typeof tokenPrefix !== 'string' || !/^[A-Za-z0-9_-]{0,32}$/.test(tokenPrefix)) {
    fail('tokenPrefix', `must be up to 32 letters, digits, "_" or "-", got ${describe(tokenPrefix)}`);
  }
  const cache = resolveCache(options.cache, fail);
  const statementTimeout = duration('statementTimeout', null);
  if (statementTimeout === 0) fail('statementTimeout', 'must be more than 0 seconds (or null for none)');
  if (statementTimeout !== null && statementTimeout > LONGEST_TIMER) {
    fail('statementTimeout', `must be at most ${LONGEST_TIMER} seconds (about 24 days)`);
  }
  for (const hook of HOOKS) {
    if (options[hook] !== undefined && typeof options[hook] !== 'function') fail(hook, 'must be a function');
  }

  const entityName = options.entityName ?? (kind === DEFAULT_KIND ? 'Session' : `${pascalCase(kind)}Session`);
  if (typeof entityName !== 'string' || !/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(entityName)) {
    fail('entityName', `must be a valid identifier, got ${describe(entityName)}`);
  }
  if (options.orm !== undefined && (typeof options.orm !== 'object' || typeof options.orm?.em !== 'object')) {
    fail('orm', 'must be a MikroORM instance');
  }

  return {
    name: kind,
    ttl,
    extendOnUse: bool('extendOnUse', true),
    extendThreshold,
    absoluteTtl,
    tokenLength,
    hashAlgorithm,
    secrets,
    tableName,
    schema,
    columns,
    tokenFrom,
    cookie,
    pruneInterval,
    pruneGrace,
    pruneBatchSize,
    tokenPrefix,
    cache,
    statementTimeout,
    entityName,
    orm: options.orm,
    onCreated: options.onCreated,
    onExtended: options.onExtended,
    onExpired: options.onExpired,
    onDeleted: options.onDeleted,
    onPruned: options.onPruned,
  };
}

type Fail = (option: string, problem: string) => never;

function resolveCache(cache: unknown, fail: Fail): ResolvedSessionsOptions['cache'] {
  if (cache === undefined || cache === false || cache === null) return null;
  const given = cache === true ? {} : cache;
  if (typeof given !== 'object' || Array.isArray(given)) fail('cache', 'must be true, false or { ttl, max }');
  const { ttl = 30, max = 10_000, ...rest } = given as { ttl?: unknown; max?: unknown };
  const unknown = Object.keys(rest)[0];
  if (unknown) fail(`cache.${unknown}`, 'is not a cache option; known: ttl, max');
  const seconds = parseDuration(ttl);
  if (seconds === undefined || seconds <= 0) fail('cache.ttl', `must be a duration above 0, got ${describe(ttl)}`);
  if (!Number.isInteger(max) || (max as number) < 1)
    fail('cache.max', `must be a whole number above 0, got ${describe(max)}`);
  return { ttl: seconds!, max: max as number };
}

function resolveSecrets(secret: unknown, fail: Fail): string[] {
  if (secret === undefined || secret === null) return [];
  const list = Array.isArray(secret) ? secret : [secret];
  if (list.length === 0) fail('secret', 'must not be an empty list (leave it out for no secret)');
  for (const item of list) {
    if (typeof item !== 'string' || item.length === 0) fail('secret', 'must be a non-empty string or a list of them');
  }
  return list as string[];
}

function resolveColumns(columns: unknown, fail: Fail): ResolvedSessionsOptions['columns'] {
  if (typeof columns !== 'object' || columns === null || Array.isArray(columns)) {
    fail('columns', `must be an object of column definitions, got ${describe(columns)}`);
  }
  const resolved: ResolvedSessionsOptions['columns'] = {};
  for (const [property, definition] of Object.entries(columns as Record<string, unknown>)) {
    const option = `columns.${property}`;
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(property)) fail(option, 'must be named like a JavaScript property');
    if (BUILT_IN_PROPERTIES.has(property)) fail(option, 'clashes with a built-in session property');
    if (typeof definition !== 'object' || definition === null) fail(option, 'must be a column definition object');
    const {
      type = 'string',
      index = false,
      nullable = true,
      fieldName = snakeCase(property),
      length = 255,
      ...rest
    } = definition as ColumnOptions;
    const unknown = Object.keys(rest)[0];
    if (unknown)
      fail(`${option}.${unknown}`, 'is not a column option; known: type, index, nullable, fieldName, length');
    if (!COLUMN_TYPES.has(type))
      fail(`${option}.type`, `must be one of ${[...COLUMN_TYPES].join(', ')}, got ${describe(type)}`);
    if (typeof index !== 'boolean') fail(`${option}.index`, 'must be true or false');
    if (typeof nullable !== 'boolean') fail(`${option}.nullable`, 'must be true or false');
    if (!isIdentifier(fieldName))
      fail(`${option}.fieldName`, 'must be a column name of 1 to 63 characters, without "?"');
    if (BUILT_IN_COLUMNS.has(fieldName) || Object.values(resolved).some((c) => c.fieldName === fieldName)) {
      fail(`${option}.fieldName`, `"${fieldName}" is already a column of the table`);
    }
    if (!Number.isInteger(length) || length < 1) fail(`${option}.length`, 'must be a positive whole number');
    resolved[property] = { type, index, nullable, fieldName, length };
  }
  return resolved;
}

function resolveCookie(
  options: EctoSessionsOptions,
  ttl: number | null,
  fail: Fail,
): ResolvedSessionsOptions['cookie'] {
  const given = options.cookie ?? {};
  if (typeof given !== 'object' || given === null) fail('cookie', 'must be an object of cookie attributes');
  const cookie = {
    name: 'auth_token',
    httpOnly: true,
    secure: true,
    sameSite: 'lax' as const,
    path: '/',
    maxAge: ttl === null ? LONGEST_COOKIE : Math.min(Math.floor(ttl), LONGEST_COOKIE),
    ...given,
  };
  if (typeof cookie.name !== 'string' || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(cookie.name)) {
    fail('cookie.name', `must be a valid cookie name, got ${describe(cookie.name)}`);
  }
  if (!SAME_SITE.has(cookie.sameSite)) fail('cookie.sameSite', "must be 'lax', 'strict' or 'none'");
  if (typeof cookie.httpOnly !== 'boolean') fail('cookie.httpOnly', 'must be true or false');
  if (typeof cookie.secure !== 'boolean') fail('cookie.secure', 'must be true or false');
  if (!Number.isInteger(cookie.maxAge) || cookie.maxAge < 0) fail('cookie.maxAge', 'must be a whole number of seconds');
  if (cookie.sameSite === 'none' && !cookie.secure)
    fail('cookie.sameSite', "'none' needs secure: true (browsers refuse it otherwise)");
  if (cookie.name.startsWith('__Host-') && (!cookie.secure || cookie.path !== '/' || cookie.domain !== undefined)) {
    fail('cookie.name', 'with the __Host- prefix needs secure: true, path: "/" and no domain');
  }
  if (cookie.name.startsWith('__Secure-') && !cookie.secure)
    fail('cookie.name', 'with the __Secure- prefix needs secure: true');
  const unknown = Object.keys(given).find((key) => !COOKIE_KEYS.has(key));
  if (unknown) fail(`cookie.${unknown}`, `is not a cookie option; known: ${[...COOKIE_KEYS].join(', ')}`);
  try {
    sessionCookie(cookie, 'probe'); // a bad path or domain fails here, at start-up, not at the first login
  } catch (error) {
    fail('cookie', `has an attribute the cookie library refuses: ${(error as Error).message}`);
  }
  return cookie;
}

function resolveTokenSources(sources: unknown, cookieName: string, fail: Fail): TokenSource[] {
  if (sources === undefined) {
    return [{ type: 'header', name: 'x-auth-token' }, { type: 'bearer' }, { type: 'cookie', name: cookieName }];
  }
  if (!Array.isArray(sources) || sources.length === 0) fail('tokenFrom', 'must be a non-empty list of token sources');
  return (sources as unknown[]).map((source, i) => {
    const s = source as Partial<TokenSource> & { name?: unknown };
    if (s?.type === 'bearer') return { type: 'bearer' };
    if ((s?.type === 'header' || s?.type === 'cookie') && typeof s.name === 'string' && s.name.length > 0) {
      return { type: s.type, name: s.type === 'header' ? s.name.toLowerCase() : s.name };
    }
    return fail(`tokenFrom[${i}]`, "must be { type: 'header', name }, { type: 'bearer' } or { type: 'cookie', name }");
  });
}

/** `userId` → `user_id`, `apiKeys` → `api_keys`. */
export function snakeCase(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/-/g, '_')
    .toLowerCase();
}

function pascalCase(name: string): string {
  return name.replace(/(^|[-_])([a-z0-9])/gi, (_, __, c: string) => c.toUpperCase());
}
