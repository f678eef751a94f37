import type { ColumnType, ResolvedSessionsOptions } from './interfaces/sessions-options.interface';
import type { ListOptions, SessionFilters, SessionStatus } from './interfaces/session-filters.interface';
import { Session } from './session.entity';
import { describe } from './token';

type ValueKind = 'date' | 'json' | 'plain';

interface Column {
  property: string;
  field: string;
  quoted: string;
  type: ColumnType;
  kind: ValueKind;
  nullable: boolean;
}

/** A statement with `?` placeholders, as the ORM connection's `execute` takes it. */
export interface Statement {
  sql: string;
  params: unknown[];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether a value is shaped like a UUID; anything else cannot match an id (and PostgreSQL would reject it). */
export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

const STATUSES: ReadonlySet<string> = new Set<SessionStatus>(['valid', 'expired', 'all']);
const MAX_LIMIT = 10_000;

/**
 * The SQL of one kind, built once from its options. Statements go through the
 * ORM's connection as single round trips, without the unit of work: the hot
 * path costs one indexed lookup, and no identity map lives across requests.
 *
 * Times are sent as UTC ISO strings and read as UTC, so the same code reads
 * `timestamptz` columns and the naive UTC `timestamp` columns Ecto makes, in
 * any process time zone.
 */
export class SessionStatements {
  readonly table: string;
  readonly columns: Column[];
  private readonly byProperty = new Map<string, Column>();
  private readonly extraProperties: Set<string>;
  private readonly returning: string;
  readonly selectByDigest: string[];

  constructor(private readonly options: ResolvedSessionsOptions) {
    this.table = (options.schema ? `${quote(options.schema)}.` : '') + quote(options.tableName);
    const builtIn: Array<[string, string, ColumnType, boolean]> = [
      ['id', 'id', 'uuid', false],
      ['authTokenDigest', 'auth_token_digest', 'string', false],
      ['data', 'data', 'json', false],
      ['expiresAt', 'expires_at', 'datetime', true],
      ['insertedAt', 'inserted_at', 'datetime', false],
      ['updatedAt', 'updated_at', 'datetime', false],
    ];
    const extra = Object.entries(options.columns).map(
      ([property, c]) => [property, c.fieldName, c.type, c.nullable] as [string, string, ColumnType, boolean],
    );
    this.extraProperties = new Set(extra.map(([p]) => p));
    this.columns = [...builtIn, ...extra].map(([property, field, type, nullable]) => ({
      property,
      field,
      quoted: quote(field),
      type,
      kind: kindOf(type),
      nullable,
    }));
    for (const column of this.columns) this.byProperty.set(column.property, column);
    this.returning = this.columns.map((c) => c.quoted).join(', ');
    // One statement per number of accepted secrets (rotation): `= ?` or `IN (?, ?)`.
    const digests = Math.max(1, options.secrets.length);
    this.selectByDigest = [];
    for (let n = 1; n <= digests; n++) {
      const match = n === 1 ? '= ?' : `IN (${Array(n).fill('?').join(', ')})`;
      this.selectByDigest[n] =
        `SELECT ${this.returning} FROM ${this.table} WHERE "auth_token_digest" ${match} AND ` +
        `("expires_at" IS NULL OR "expires_at" > ?)` +
        (options.absoluteTtl !== null ? ` AND "inserted_at" > ?` : '') +
        ' LIMIT 1';
    }
  }

  /** The lookup `authenticate` sends: digests, then the validity bounds at `now`. */
  lookup(digests: string[], now: Date): Statement {
    return { sql: this.selectByDigest[digests.length], params: [...digests, ...this.validityParams(now)] };
  }

  insert(values: Record<string, unknown>): Statement {
    const columns = this.columns.filter((c) => values[c.property] !== undefined);
    for (const c of columns)
      if (this.extraProperties.has(c.property)) assertValue('create', 'attribute', c, values[c.property]);
    const placeholders = columns.map((c) => (c.kind === 'json' ? '?::jsonb' : '?'));
    return {
      sql:
        `INSERT INTO ${this.table} (${columns.map((c) => c.quoted).join(', ')}) ` +
        `VALUES (${placeholders.join(', ')}) RETURNING ${this.returning}`,
      params: columns.map((c) => toParam(c, values[c.property])),
    };
  }

  /**
   * Moves `expires_at` forward only when it would move by more than the
   * threshold: concurrent extensions write once, and a deleted row stays deleted.
   * A sliding extension (`whileValid`) also leaves alone a row that was expired in
   * the meantime, so `expire()` racing with a request is never undone.
   */
  extend(id: string, expiresAt: Date, now: Date, threshold: number, whileValid: boolean): Statement {
    const bound = iso(new Date(expiresAt.getTime() - threshold * 1000));
    return {
      sql:
        `UPDATE ${this.table} SET "expires_at" = ?, "updated_at" = ? ` +
        `WHERE "id" = ? AND "expires_at" < ?${whileValid ? ' AND "expires_at" > ?' : ''} RETURNING "expires_at", "updated_at"`,
      params: [iso(expiresAt), iso(now), id, bound, ...(whileValid ? [iso(now)] : [])],
    };
  }

  /** Sets `data` (merged at the top level, atomically, with `mergeData`) and columns. */
  update(id: string, values: Record<string, unknown>, now: Date, mergeData = false): Statement {
    const sets: string[] = ['"updated_at" = ?'];
    const params: unknown[] = [iso(now)];
    for (const [property, value] of Object.entries(values)) {
      if (value === undefined) continue;
      const column = this.column(property, 'update');
      if (property !== 'data' && !this.extraProperties.has(property)) {
        throw new TypeError(`update: "${property}" cannot be changed`);
      }
      if (this.extraProperties.has(property)) assertValue('update', 'attribute', column, value);
      const merge = mergeData && property === 'data' ? `${column.quoted} || ` : '';
      sets.push(`${column.quoted} = ${merge}${column.kind === 'json' ? '?::jsonb' : '?'}`);
      params.push(toParam(column, value));
    }
    return {
      sql: `UPDATE ${this.table} SET ${sets.join(', ')} WHERE "id" = ? RETURNING ${this.returning}`,
      params: [...params, id],
    };
  }

  /**
   * Ends a session now; one that already ended keeps its expiry. The time is
   * floored to the second: a `timestamp(0)` column (as Ecto may make) would
   * otherwise round it up and leave the session valid for up to half a second.
   */
  expire(id: string, at: Date): Statement {
    const now = new Date(Math.floor(at.getTime() / 1000) * 1000);
    return {
      sql:
        `UPDATE ${this.table} SET "expires_at" = CASE WHEN "expires_at" IS NULL OR "expires_at" > ? ` +
        `THEN ? ELSE "expires_at" END, "updated_at" = ? WHERE "id" = ? RETURNING ${this.returning}`,
      params: [iso(now), iso(now), iso(now), id],
    };
  }

  select(filters: Where, list: ListOptions = {}): Statement {
    const { limit = 100, offset = 0, orderBy = { insertedAt: 'desc' } } = list;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
      throw new TypeError(`list: limit must be a whole number from 1 to ${MAX_LIMIT}, got ${describe(limit)}`);
    }
    if (!Number.isInteger(offset) || offset < 0) {
      throw new TypeError(`list: offset must be a whole number >= 0, got ${describe(offset)}`);
    }
    if (typeof orderBy !== 'object' || orderBy === null || Array.isArray(orderBy)) {
      throw new TypeError('list: orderBy must be an object such as { insertedAt: "desc" }');
    }
    const order = Object.entries(orderBy).map(([property, direction]) => {
      if (direction !== 'asc' && direction !== 'desc') {
        throw new TypeError(`list: orderBy.${property} must be "asc" or "desc"`);
      }
      return `${this.column(property, 'orderBy').quoted} ${direction.toUpperCase()}`;
    });
    order.push('"id" DESC'); // a stable order for paging
    return {
      sql: `SELECT ${this.returning} FROM ${this.table}${filters.sql} ORDER BY ${order.join(', ')} LIMIT ? OFFSET ?`,
      params: [...filters.params, limit, offset],
    };
  }

  count(filters: Where): Statement {
    return { sql: `SELECT count(*) AS "count" FROM ${this.table}${filters.sql}`, params: filters.params };
  }

  /** Deletes the matching rows; with `returning`, gives them back (for `deleted` events). */
  delete(filters: Where, returning = false): Statement {
    return {
      sql: `DELETE FROM ${this.table}${filters.sql}${returning ? ` RETURNING ${this.returning}` : ''}`,
      params: filters.params,
    };
  }

  /**
   * Takes the pruning lock for the current transaction: one instance of many
   * prunes a table at a time, and the lock goes with the transaction.
   */
  pruneLock(): Statement {
    return {
      sql: 'SELECT pg_try_advisory_xact_lock(hashtext(?)) AS "locked"',
      params: [`nestjs-ecto-sessions:${this.table}`],
    };
  }

  /**
   * Deletes at most `limit` rows expired at `cutoff`; rows another transaction
   * holds are skipped rather than waited for.
   */
  pruneBatch(expired: Where, limit: number): Statement {
    return {
      sql:
        `DELETE FROM ${this.table} WHERE "id" IN ` +
        `(SELECT "id" FROM ${this.table}${expired.sql} LIMIT ? FOR UPDATE SKIP LOCKED)`,
      params: [...expired.params, limit],
    };
  }

  /**
   * A WHERE clause from filters. Unknown keys, `undefined` values and values of
   * the wrong type throw, so a filter object never widens to every session.
   */
  where(
    filters: SessionFilters,
    now: Date,
    digestsOf: (token: string) => string[],
    defaultStatus: SessionStatus,
    method: string,
  ): Where {
    if (!isPlainObject(filters)) {
      throw new TypeError(`${method}: filters must be a plain object, got ${describe(filters)}`);
    }
    const clauses: string[] = [];
    const params: unknown[] = [];
    let status: SessionStatus = defaultStatus;
    for (const [key, value] of Object.entries(filters)) {
      if (key === 'status') {
        if (!STATUSES.has(value as string)) {
          throw new TypeError(`${method}: status must be "valid", "expired" or "all", got ${describe(value)}`);
        }
        status = value as SessionStatus;
      } else if (key === 'exceptId') {
        if (method !== 'deleteAll') throw new TypeError(`${method}: unknown filter "exceptId"`);
        assertString(method, key, value);
        if (isUuid(value)) {
          clauses.push('"id" <> ?');
          params.push(value);
        }
      } else if (key === 'id') {
        assertString(method, key, value);
        clauses.push(isUuid(value) ? '"id" = ?' : 'FALSE');
        if (isUuid(value)) params.push(value);
      } else if (key === 'token') {
        assertString(method, key, value);
        const digests = digestsOf(value as string);
        clauses.push(digests.length === 0 ? 'FALSE' : `"auth_token_digest" IN (${digests.map(() => '?').join(', ')})`);
        params.push(...digests);
      } else {
        if (key === 'authTokenDigest' || key === 'data') {
          throw new TypeError(`${method}: cannot filter on "${key}"`);
        }
        const column = this.column(key, method);
        if (value === null) {
          clauses.push(`${column.quoted} IS NULL`);
        } else if (column.type === 'json') {
          throw new TypeError(`${method}: cannot filter on JSON column "${key}"`);
        } else {
          assertValue(method, 'filter', column, value);
          // A malformed uuid cannot match, and PostgreSQL would reject it: match nothing instead.
          clauses.push(column.type === 'uuid' && !isUuid(value) ? 'FALSE' : `${column.quoted} = ?`);
          if (column.type !== 'uuid' || isUuid(value)) params.push(toParam(column, value));
        }
      }
    }
    if (status === 'valid') {
      clauses.push(
        '("expires_at" IS NULL OR "expires_at" > ?)' +
          (this.options.absoluteTtl !== null ? ' AND "inserted_at" > ?' : ''),
      );
      params.push(...this.validityParams(now));
    } else if (status === 'expired') {
      clauses.push(
        this.options.absoluteTtl !== null ? '("expires_at" <= ? OR "inserted_at" <= ?)' : '"expires_at" <= ?',
      );
      params.push(...this.validityParams(now));
    }
    return { sql: clauses.length ? ` WHERE ${clauses.join(' AND ')}` : '', params };
  }

  /**
   * A session from a row: a plain `Session`, not the kind's entity class, whose
   * prototype MikroORM fills with change-tracking setters (each assignment there
   * would build an entity helper and define a property, for nothing).
   */
  toSession(row: Record<string, unknown>): Session {
    const session = Object.create(Session.prototype) as Session;
    for (const column of this.columns) {
      if (column.property === 'authTokenDigest') continue;
      const value = row[column.field];
      session[column.property] = column.kind === 'date' ? parseTimestamp(value) : value;
    }
    session.authTokenDigest = row.auth_token_digest as string;
    return session;
  }

  private validityParams(now: Date): string[] {
    const params = [iso(now)];
    if (this.options.absoluteTtl !== null) params.push(iso(new Date(now.getTime() - this.options.absoluteTtl * 1000)));
    return params;
  }

  private column(property: string, method: string): Column {
    const column = this.byProperty.get(property);
    if (!column) {
      throw new TypeError(
        `${method}: unknown property "${property}"; known: ${[...this.byProperty.keys()].join(', ')}`,
      );
    }
    return column;
  }
}

/** A WHERE clause (empty or starting with ` WHERE`) and its parameters. */
export interface Where {
  sql: string;
  params: unknown[];
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
    throw new TypeError(`${method}: ${what} "${column.property}" must be ${expected}, got ${describe(value)}`);
  }
}

function assertString(method: string, key: string, value: unknown): void {
  if (typeof value !== 'string')
    throw new TypeError(`${method}: filter "${key}" must be a string, got ${describe(value)}`);
}

function kindOf(type: ColumnType): ValueKind {
  return type === 'datetime' ? 'date' : type === 'json' ? 'json' : 'plain';
}

function toParam(column: Column, value: unknown): unknown {
  if (value === null) return null;
  if (column.kind === 'json') return JSON.stringify(value);
  if (column.kind === 'date') {
    const date = value instanceof Date ? value : new Date(value as string);
    if (Number.isNaN(date.getTime())) throw new TypeError(`"${column.property}" must be a valid date`);
    return iso(date);
  }
  return value;
}

export function quote(identifier: string): string {
  return `"${identifier.replace(/"/g, '""')}"`;
}

/** UTC, with a `Z`: right for `timestamptz`, and stored as UTC wall time in a naive `timestamp`. */
let lastMs = NaN;
let lastIso = '';

/** `toISOString`, remembered for the last instant: requests in the same millisecond share it. */
export function iso(date: Date): string {
  const ms = date.getTime();
  if (ms !== lastMs) {
    lastIso = date.toISOString(); // throws for an invalid date, as before
    lastMs = ms;
  }
  return lastIso;
}

/**
 * A timestamp as PostgreSQL prints it (the ORM leaves them as strings): with an
 * offset for `timestamptz`, without one for a naive UTC `timestamp`, which is
 * read as UTC rather than in the process time zone.
 */
const TIMESTAMP =
  /^(\d{4})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(?:\.(\d+))?(?:Z|([+-])(\d\d)(?::?(\d\d))?(?::?\d\d)?)?$/;

export function parseTimestamp(value: unknown): Date | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value;
  const text = String(value);
  if (text === 'infinity') return new Date(8.64e15);
  const fast = commonTimestamp(text);
  if (!Number.isNaN(fast)) return new Date(fast);
  const match = TIMESTAMP.exec(text);
  if (!match) return new Date(text);
  // Numbers, not a rebuilt ISO string for Date to parse again: this runs three times a request.
  const [, y, mo, d, h, mi, sec, fraction, sign, oh, om] = match;
  const millis = fraction ? Number(fraction.slice(0, 3).padEnd(3, '0')) : 0;
  const offset = sign ? (sign === '-' ? -1 : 1) * (Number(oh) * 60 + Number(om ?? 0)) : 0;
  return new Date(Date.UTC(+y, +mo - 1, +d, +h, +mi, +sec, millis) - offset * 60_000);
}

/**
 * The forms PostgreSQL prints (`2026-11-27 12:00:00.123456+00`, with or
 * without fraction and offset) read by character codes, without the regular
 * expression's match array and substrings: three run per authenticated request.
 * `NaN` for anything else, which `TIMESTAMP` then reads.
 */
function commonTimestamp(text: string): number {
  const length = text.length;
  if (length < 19 || text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45) return NaN; // '-'
  const separator = text.charCodeAt(10);
  if ((separator !== 32 && separator !== 84) || text.charCodeAt(13) !== 58 || text.charCodeAt(16) !== 58) return NaN; // ' ' or 'T', ':'
  const year = digitsAt(text, 0, 4);
  if (!(year >= 100)) return NaN; // Date.UTC reads 0 to 99 as 1900 to 1999
  let at = 19;
  let millis = 0;
  if (at < length && text.charCodeAt(at) === 46) {
    // '.': up to six digits, milliseconds from the first three
    let digits = 0;
    for (at++; at < length && isDigit(text.charCodeAt(at)); at++, digits++) {
      if (digits < 3) millis = millis * 10 + text.charCodeAt(at) - 48;
    }
    if (digits === 0) return NaN;
    for (let d = digits; d < 3; d++) millis *= 10;
  }
  let offset = 0;
  if (at < length) {
    const sign = text.charCodeAt(at);
    if (sign === 90 && at === length - 1)
      offset = 0; // 'Z'
    else if (sign === 43 || sign === 45) {
      // '+' or '-': hours, then optionally minutes with or without ':'
      const hours = digitsAt(text, at + 1, 2);
      at += 3;
      if (at < length && text.charCodeAt(at) === 58) at++;
      const minutes = at < length ? digitsAt(text, at, 2) : 0;
      if (at < length) at += 2;
      if (at !== length || Number.isNaN(hours + minutes)) return NaN;
      offset = (sign === 45 ? -1 : 1) * (hours * 60 + minutes);
    } else return NaN;
  }
  const month = digitsAt(text, 5, 2);
  const day = digitsAt(text, 8, 2);
  const hour = digitsAt(text, 11, 2);
  const minute = digitsAt(text, 14, 2);
  const second = digitsAt(text, 17, 2);
  if (Number.isNaN(month + day + hour + minute + second)) return NaN;
  return Date.UTC(year, month - 1, day, hour, minute, second, millis) - offset * 60_000;
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

/** The number written by `count` digits from `start`, or `NaN`. */
function digitsAt(text: string, start: number, count: number): number {
  let value = 0;
  for (let i = start; i < start + count; i++) {
    const code = text.charCodeAt(i);
    if (!isDigit(code)) return NaN;
    value = value * 10 + code - 48;
  }
  return value;
}
