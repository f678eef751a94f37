import type { Column, ColumnType } from './columns';

/** A value as an error message shows it: short, and never a long string in full. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string')
    return value.length > 40 ? `a string of ${value.length} characters` : JSON.stringify(value);
  if (typeof value === 'object') return 'an object';
  return String(value);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether a value is shaped like a UUID; anything else cannot match an id (and PostgreSQL would reject it). */
export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

/** Only `{ ... }` or `Object.create(null)`: a Date, Map or array has no own keys and would match everything. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** What a value of each column type may be, from a JavaScript caller. */
const ACCEPTS: Record<ColumnType, [string, (value: unknown) => boolean]> = {
  string: ['a string', (v) => typeof v === 'string'],
  text: ['a string', (v) => typeof v === 'string'],
  uuid: ['a string', (v) => typeof v === 'string'],
  integer: ['a whole number', (v) => Number.isSafeInteger(v)],
  bigint: [
    'a whole number',
    (v) => Number.isSafeInteger(v) || typeof v === 'bigint' || (typeof v === 'string' && /^-?\d{1,19}$/.test(v)),
  ],
  double: ['a finite number', (v) => typeof v === 'number' && Number.isFinite(v)],
  boolean: ['true or false', (v) => typeof v === 'boolean'],
  datetime: [
    'a valid Date',
    (v) => (v instanceof Date || typeof v === 'string') && !Number.isNaN(new Date(v as string).getTime()),
  ],
  json: ['JSON', (v) => v !== undefined && typeof v !== 'function' && typeof v !== 'symbol' && typeof v !== 'bigint'],
};

/** Throws a clear TypeError unless `value` fits the column (null: where the column allows it). */
export function assertValue(method: string, what: 'filter' | 'attribute', column: Column, value: unknown): void {
  if (value === null && (what === 'filter' || column.nullable)) return;
  const [expected, accepts] = ACCEPTS[column.type];
  if (!accepts(value)) {
    throw new TypeError(`${method}: ${what} "${column.property}" must be ${expected}, got ${describeValue(value)}`);
  }
}

/** Throws a clear TypeError unless a filter's value is a string. */
export function assertString(method: string, key: string, value: unknown): void {
  if (typeof value !== 'string')
    throw new TypeError(`${method}: filter "${key}" must be a string, got ${describeValue(value)}`);
}

/** Throws unless `data` is a JSON object. */
export function assertData(method: string, data: unknown): void {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new TypeError(`${method}: data must be a JSON object, got ${describeValue(data)}`);
  }
}

/** A scope as RFC 6749 §3.3 allows it (printable ASCII, no space, `"` or `\`), so it can be quoted in `WWW-Authenticate`. */
const SCOPE = /^[\x21\x23-\x5B\x5D-\x7E]{1,200}$/;

/** Throws unless `scopes` is a list of at most 100 scope names; gives them without repeats. */
export function checkScopes(method: string, scopes: unknown): string[] {
  if (!Array.isArray(scopes) || scopes.length > 100 || !scopes.every((s) => typeof s === 'string' && SCOPE.test(s))) {
    throw new TypeError(
      `${method}: scopes must be a list of at most 100 names of printable characters without spaces, quotes or backslashes, got ${describeValue(scopes)}`,
    );
  }
  return [...new Set(scopes as string[])];
}
