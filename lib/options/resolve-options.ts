import { DEFAULT_KIND } from '../constants';
import { SessionsOptionsError } from '../errors';
import { logger } from '../logger';
import { describeValue } from '../store/values';
import { assertTokenLength, isHashAlgorithm } from '../tokens/auth-token';
import { DEFAULT_COLUMNS, DEFAULTS } from './defaults';
import { parseDuration } from './duration';
import type { EctoSessionsOptions, ResolvedSessionsOptions } from './options.interface';
import { resolveMaxPerUser, resolveRotation, resolveTrackLastUsed } from './resolve-features';
import {
  isIdentifier,
  pascalCase,
  resolveCache,
  resolveColumns,
  resolveCookie,
  resolveSecrets,
  resolveTokenSources,
  snakeCase,
} from './resolve-parts';

export { DEFAULT_COLUMNS } from './defaults';

/** A default duration in seconds. */
const seconds = (duration: string): number => parseDuration(duration)!;

const HOOKS = ['onCreated', 'onExtended', 'onExpired', 'onDeleted', 'onPruned', 'onRotated'] as const;

/** Every option, checked by the compiler against `EctoSessionsOptions`: none missing, none extra. */
const OPTIONS: Record<keyof EctoSessionsOptions, true> = {
  name: true,
  ttl: true,
  extendOnUse: true,
  extendThreshold: true,
  absoluteTtl: true,
  tokenLength: true,
  hashAlgorithm: true,
  secret: true,
  tableName: true,
  schema: true,
  columns: true,
  tokenFrom: true,
  cookie: true,
  pruneInterval: true,
  pruneGrace: true,
  pruneBatchSize: true,
  tokenPrefix: true,
  cache: true,
  statementTimeout: true,
  preferReadReplicas: true,
  listenUrl: true,
  rotation: true,
  scopes: true,
  trackLastUsed: true,
  maxPerUser: true,
  entityName: true,
  orm: true,
  onCreated: true,
  onExtended: true,
  onExpired: true,
  onDeleted: true,
  onPruned: true,
  onRotated: true,
};
const OPTION_NAMES: ReadonlySet<string> = new Set(Object.keys(OPTIONS));

/** A PostgreSQL URL the `pg` client takes. */
function isConnectionString(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  try {
    return /^postgres(ql)?:$/.test(new URL(value).protocol);
  } catch {
    return false;
  }
}

/** Node's timers take at most 2^31 - 1 ms; a longer delay would fire at once. */
const LONGEST_TIMER = 2_147_483;
/**
 * MD5 and SHA-1 under any of OpenSSL's names (`md5`, `RSA-MD5`, `ssl3-md5`,
 * `md5-sha1`, `sha1`, `sha-1`, `RSA-SHA1`, `sha1WithRSAEncryption`…): broken
 * digests, accepted (tables made by another app may use them) but warned about.
 */
const WEAK_DIGEST = /md5|sha-?1(?![0-9])/i;
/**
 * Applies every default and checks every option, for `forRoot` and `forRootAsync`
 * alike. Throws a {@link SessionsOptionsError} naming the first bad option.
 */
export function resolveSessionsOptions(options: EctoSessionsOptions = {}): ResolvedSessionsOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new SessionsOptionsError(DEFAULT_KIND, 'options', `must be an object, got ${describeValue(options)}`);
  }
  const kind = options.name ?? DEFAULT_KIND;
  const fail = (option: string, problem: string): never => {
    throw new SessionsOptionsError(String(kind), option, problem);
  };
  if (typeof kind !== 'string' || !/^[A-Za-z][A-Za-z0-9_-]*$/.test(kind)) {
    fail('name', `must be a word of letters, digits, "_" or "-", got ${describeValue(kind)}`);
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
      fail(option, `must be a number of seconds >= 0 or a duration such as '7d' or '12h', got ${describeValue(value)}`);
    }
    return seconds!;
  };
  const bool = (option: keyof EctoSessionsOptions, fallback: boolean): boolean => {
    const value = options[option];
    if (value === undefined) return fallback;
    if (typeof value !== 'boolean') fail(option, `must be true or false, got ${describeValue(value)}`);
    return value as boolean;
  };

  const ttl = duration('ttl', seconds(DEFAULTS.ttl));
  if (ttl === 0) fail('ttl', 'must be more than 0 seconds (or null for sessions that never expire)');
  const absoluteTtl = duration('absoluteTtl', DEFAULTS.absoluteTtl);
  if (absoluteTtl === 0) fail('absoluteTtl', 'must be more than 0 seconds (or null for no absolute limit)');

  const tokenLength = options.tokenLength ?? DEFAULTS.tokenLength;
  try {
    assertTokenLength(tokenLength, 'must be');
  } catch (error) {
    fail('tokenLength', (error as Error).message.replace(/^must be must be/, 'must be'));
  }

  const hashAlgorithm = options.hashAlgorithm === undefined ? DEFAULTS.hashAlgorithm : options.hashAlgorithm;
  if (hashAlgorithm !== null && !isHashAlgorithm(hashAlgorithm)) {
    fail('hashAlgorithm', `must be one of crypto.getHashes() or null, got ${describeValue(hashAlgorithm)}`);
  }
  const secrets = resolveSecrets(options.secret, fail);
  if (hashAlgorithm === null && secrets.length > 0) {
    fail('secret', 'needs a hashAlgorithm: a secret without hashing is refused');
  }
  if (hashAlgorithm === null) {
    logger.warn(
      `Kind "${kind}" stores tokens in plaintext (hashAlgorithm: null): anyone who reads the table can use them.`,
    );
  } else if (WEAK_DIGEST.test(hashAlgorithm)) {
    logger.warn(
      `Kind "${kind}" uses hashAlgorithm "${hashAlgorithm}", a weak digest (MD5 or SHA-1): prefer 'sha256' (the default).`,
    );
  }

  const tableName = options.tableName ?? (kind === DEFAULT_KIND ? DEFAULTS.tableName : snakeCase(kind));
  if (!isIdentifier(tableName))
    fail('tableName', `must be a table name of 1 to 63 characters, got ${describeValue(tableName)}`);
  const schema = options.schema;
  if (schema !== undefined && !isIdentifier(schema)) {
    fail('schema', `must be a schema name of 1 to 63 characters, got ${describeValue(schema)}`);
  }
  const columns = resolveColumns(options.columns ?? DEFAULT_COLUMNS, fail);
  const cookie = resolveCookie(options, ttl, fail);
  const tokenFrom = resolveTokenSources(options.tokenFrom, cookie.name, fail);

  // Default: a day, as the seed, but never so large that a short ttl would never slide.
  const threshold = seconds(DEFAULTS.extendThreshold);
  const extendThreshold = duration('extendThreshold', ttl === null ? threshold : Math.min(threshold, ttl / 7));
  if (extendThreshold !== null && ttl !== null && options.extendThreshold !== undefined && extendThreshold >= ttl) {
    fail('extendThreshold', `must be less than ttl (${ttl} s), or sessions would never be extended; use null for that`);
  }

  const pruneInterval = duration('pruneInterval', DEFAULTS.pruneInterval);
  if (pruneInterval === 0) fail('pruneInterval', 'must be more than 0 seconds (or null to turn pruning off)');
  if (pruneInterval !== null && pruneInterval > LONGEST_TIMER)
    fail('pruneInterval', `must be at most ${LONGEST_TIMER} seconds (about 24 days)`);

  const pruneGrace = duration('pruneGrace', DEFAULTS.pruneGrace)!;
  if (pruneGrace === null) fail('pruneGrace', 'must be a duration (0 for none)');
  const pruneBatchSize = options.pruneBatchSize ?? DEFAULTS.pruneBatchSize;
  if (!Number.isInteger(pruneBatchSize) || pruneBatchSize < 1 || pruneBatchSize > 1_000_000) {
    fail('pruneBatchSize', `must be a whole number from 1 to 1000000, got ${describeValue(pruneBatchSize)}`);
  }
  const tokenPrefix = options.tokenPrefix ?? DEFAULTS.tokenPrefix;
  if (typeof tokenPrefix !== 'string' || !/^[A-Za-z0-9_-]{0,32}$/.test(tokenPrefix)) {
    fail('tokenPrefix', `must be up to 32 letters, digits, "_" or "-", got ${describeValue(tokenPrefix)}`);
  }
  const cache = resolveCache(options.cache, fail);
  const statementTimeout = duration('statementTimeout', DEFAULTS.statementTimeout);
  if (statementTimeout === 0) fail('statementTimeout', 'must be more than 0 seconds (or null for none)');
  if (statementTimeout !== null && statementTimeout > LONGEST_TIMER) {
    fail('statementTimeout', `must be at most ${LONGEST_TIMER} seconds (about 24 days)`);
  }
  const preferReadReplicas = options.preferReadReplicas ?? DEFAULTS.preferReadReplicas;
  if (preferReadReplicas !== null && typeof preferReadReplicas !== 'boolean')
    fail('preferReadReplicas', `must be true or false, got ${describeValue(preferReadReplicas)}`);
  const listenUrl = options.listenUrl ?? DEFAULTS.listenUrl;
  if (listenUrl !== null && !isConnectionString(listenUrl))
    fail('listenUrl', `must be a postgres:// or postgresql:// connection string, got ${describeValue(listenUrl)}`);
  const rotation = resolveRotation(options.rotation, fail);
  const trackLastUsed = resolveTrackLastUsed(options.trackLastUsed, fail);
  const maxPerUser = resolveMaxPerUser(options.maxPerUser, columns, fail);
  for (const hook of HOOKS) {
    if (options[hook] !== undefined && typeof options[hook] !== 'function') fail(hook, 'must be a function');
  }

  const entityName = options.entityName ?? (kind === DEFAULT_KIND ? 'Session' : `${pascalCase(kind)}Session`);
  if (typeof entityName !== 'string' || !/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(entityName)) {
    fail('entityName', `must be a valid identifier, got ${describeValue(entityName)}`);
  }
  if (options.orm !== undefined && (typeof options.orm !== 'object' || typeof options.orm?.em !== 'object')) {
    fail('orm', 'must be a MikroORM instance');
  }

  return {
    name: kind,
    ttl,
    extendOnUse: bool('extendOnUse', DEFAULTS.extendOnUse),
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
    preferReadReplicas,
    listenUrl,
    rotation,
    scopes: bool('scopes', DEFAULTS.scopes),
    trackLastUsed,
    maxPerUser,
    entityName,
    orm: options.orm,
    onCreated: options.onCreated,
    onExtended: options.onExtended,
    onExpired: options.onExpired,
    onDeleted: options.onDeleted,
    onPruned: options.onPruned,
    onRotated: options.onRotated,
  };
}
