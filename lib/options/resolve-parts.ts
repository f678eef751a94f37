import { sessionCookie } from '../http/cookies';
import { BUILT_IN_FIELDS, BUILT_IN_PROPERTIES, COLUMN_TYPES } from '../store/columns';
import { describeValue } from '../store/values';
import { COLUMN_DEFAULTS, DEFAULTS } from './defaults';
import { parseDuration } from './duration';
import type { ColumnOptions, EctoSessionsOptions, ResolvedSessionsOptions, TokenSource } from './options.interface';

/** Browsers cap cookie lifetimes at 400 days; used for `ttl: null`. */
const LONGEST_COOKIE = 400 * 86_400;
const SAME_SITE = new Set(['lax', 'strict', 'none']);
const COLUMN_KEYS = ['type', 'index', 'nullable', 'fieldName', 'length'];
const COOKIE_KEYS = ['name', 'httpOnly', 'secure', 'sameSite', 'path', 'domain', 'maxAge'];

/** Throws the option's error: `option` names it, `problem` says what is wrong. */
export type Fail = (option: string, problem: string) => never;

/**
 * A PostgreSQL identifier the library can quote: up to 63 characters, no NUL, and
 * no `?`, which the statements use as their parameter placeholder.
 */
export function isIdentifier(name: unknown): name is string {
  return typeof name === 'string' && /^[^\0?]{1,63}$/.test(name);
}

/**
 * Throws for the first key of `given` not in `known`, naming it under `option`
 * (`cache.tll is not a cache option; known: ttl, max`).
 */
export function onlyKeys(given: object, known: readonly string[], option: string, fail: Fail, noun = option): void {
  const unknown = Object.keys(given).find((key) => !known.includes(key));
  if (unknown) fail(`${option}.${unknown}`, `is not a ${noun} option; known: ${known.join(', ')}`);
}

export function resolveCache(cache: unknown, fail: Fail): ResolvedSessionsOptions['cache'] {
  if (cache === undefined || cache === false || cache === null) return null;
  const given = cache === true ? {} : cache;
  if (typeof given !== 'object' || Array.isArray(given)) fail('cache', 'must be true, false or { ttl, max }');
  onlyKeys(given as object, ['ttl', 'max'], 'cache', fail);
  const { ttl = DEFAULTS.cache.ttl, max = DEFAULTS.cache.max } = given as { ttl?: unknown; max?: unknown };
  const seconds = parseDuration(ttl);
  if (seconds === undefined || seconds <= 0) fail('cache.ttl', `must be a duration above 0, got ${describeValue(ttl)}`);
  if (!Number.isInteger(max) || (max as number) < 1)
    fail('cache.max', `must be a whole number above 0, got ${describeValue(max)}`);
  return { ttl: seconds!, max: max as number };
}

export function resolveSecrets(secret: unknown, fail: Fail): string[] {
  if (secret === undefined || secret === null) return [];
  const list = Array.isArray(secret) ? secret : [secret];
  if (list.length === 0) fail('secret', 'must not be an empty list (leave it out for no secret)');
  for (const item of list) {
    if (typeof item !== 'string' || item.length === 0) fail('secret', 'must be a non-empty string or a list of them');
  }
  return list as string[];
}

export function resolveColumns(columns: unknown, fail: Fail): ResolvedSessionsOptions['columns'] {
  if (typeof columns !== 'object' || columns === null || Array.isArray(columns)) {
    fail('columns', `must be an object of column definitions, got ${describeValue(columns)}`);
  }
  const resolved: ResolvedSessionsOptions['columns'] = {};
  for (const [property, definition] of Object.entries(columns as Record<string, unknown>)) {
    const option = `columns.${property}`;
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(property)) fail(option, 'must be named like a JavaScript property');
    if (BUILT_IN_PROPERTIES.has(property)) fail(option, 'clashes with a built-in session property');
    if (typeof definition !== 'object' || definition === null) fail(option, 'must be a column definition object');
    const {
      type = COLUMN_DEFAULTS.type,
      index = COLUMN_DEFAULTS.index,
      nullable = COLUMN_DEFAULTS.nullable,
      fieldName = snakeCase(property),
      length = COLUMN_DEFAULTS.length,
    } = definition as ColumnOptions;
    onlyKeys(definition as object, COLUMN_KEYS, option, fail, 'column');
    if (!(COLUMN_TYPES as readonly string[]).includes(type))
      fail(`${option}.type`, `must be one of ${[...COLUMN_TYPES].join(', ')}, got ${describeValue(type)}`);
    if (typeof index !== 'boolean') fail(`${option}.index`, 'must be true or false');
    if (typeof nullable !== 'boolean') fail(`${option}.nullable`, 'must be true or false');
    if (!isIdentifier(fieldName))
      fail(`${option}.fieldName`, 'must be a column name of 1 to 63 characters, without "?"');
    if (BUILT_IN_FIELDS.has(fieldName) || Object.values(resolved).some((c) => c.fieldName === fieldName)) {
      fail(`${option}.fieldName`, `"${fieldName}" is already a column of the table`);
    }
    if (!Number.isInteger(length) || length < 1) fail(`${option}.length`, 'must be a positive whole number');
    resolved[property] = { type, index, nullable, fieldName, length };
  }
  return resolved;
}

export function resolveCookie(
  options: EctoSessionsOptions,
  ttl: number | null,
  fail: Fail,
): ResolvedSessionsOptions['cookie'] {
  const given = options.cookie ?? {};
  if (typeof given !== 'object' || given === null) fail('cookie', 'must be an object of cookie attributes');
  const cookie = {
    ...DEFAULTS.cookie,
    maxAge: ttl === null ? LONGEST_COOKIE : Math.min(Math.floor(ttl), LONGEST_COOKIE),
    ...given,
  };
  if (typeof cookie.name !== 'string' || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(cookie.name)) {
    fail('cookie.name', `must be a valid cookie name, got ${describeValue(cookie.name)}`);
  }
  if (!SAME_SITE.has(cookie.sameSite)) fail('cookie.sameSite', "must be 'lax', 'strict' or 'none'");
  if (typeof cookie.httpOnly !== 'boolean') fail('cookie.httpOnly', 'must be true or false');
  if (typeof cookie.secure !== 'boolean') fail('cookie.secure', 'must be true or false');
  checkCookieScope(cookie, fail);
  if (cookie.maxAge === 0 && given.maxAge === undefined) {
    // The default Max-Age is the ttl in whole seconds, floored: a ttl under 1 s sends Max-Age=0.
    fail('ttl', "is under 1 second, so the cookie's Max-Age would be 0 (deleted at once); set cookie.maxAge");
  }
  if (!Number.isInteger(cookie.maxAge) || cookie.maxAge < 1) {
    fail('cookie.maxAge', 'must be a whole number of seconds above 0 (Max-Age=0 deletes the cookie at once)');
  }
  if (cookie.sameSite === 'none' && !cookie.secure)
    fail('cookie.sameSite', "'none' needs secure: true (browsers refuse it otherwise)");
  if (cookie.name.startsWith('__Host-') && (!cookie.secure || cookie.path !== '/' || cookie.domain !== undefined)) {
    fail('cookie.name', 'with the __Host- prefix needs secure: true, path: "/" and no domain');
  }
  if (cookie.name.startsWith('__Secure-') && !cookie.secure)
    fail('cookie.name', 'with the __Secure- prefix needs secure: true');
  onlyKeys(given, COOKIE_KEYS, 'cookie', fail);
  try {
    sessionCookie(cookie, 'probe'); // a bad path or domain fails here, at start-up, not at the first login
  } catch (error) {
    fail('cookie', `has an attribute the cookie library refuses: ${(error as Error).message}`);
  }
  return cookie;
}

/**
 * The cookie library lets an empty or relative path and an empty domain through
 * (it leaves the attribute out, or sends one the browser ignores): the cookie
 * would then be scoped to the login URL's directory, not the site.
 */
function checkCookieScope(cookie: { path?: unknown; domain?: unknown }, fail: Fail): void {
  if (typeof cookie.path !== 'string' || !cookie.path.startsWith('/'))
    fail('cookie.path', `must start with "/", got ${describeValue(cookie.path)}`);
  if (cookie.domain !== undefined && (typeof cookie.domain !== 'string' || cookie.domain === ''))
    fail('cookie.domain', `must be a non-empty string when given, got ${describeValue(cookie.domain)}`);
}

export function resolveTokenSources(sources: unknown, cookieName: string, fail: Fail): TokenSource[] {
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

export function pascalCase(name: string): string {
  return name.replace(/(^|[-_])([a-z0-9])/gi, (_, __, c: string) => c.toUpperCase());
}
