import type { ColumnType, ResolvedSessionsOptions } from '../options/options.interface';
import type { ListOptions, SessionFilters, SessionStatus } from '../service/filters.interface';
import { Session } from './session.entity';
import { describe } from '../tokens/auth-token';

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

/**
 * The database's clock, read when the row is checked: every instance judges
 * validity by this one clock, so neither clock skew between instances nor a
 * request that waited for a pooled connection can see (or slide) a session the
 * database already expired. `clock_timestamp()`, not `now()`: a statement that
 * waited on a row lock held by `expire()` reads a time after that commit.
 */
const DB_NOW = 'extract(epoch from clock_timestamp())';

/**
 * Seconds since 1970 of a timestamp column: the true instant for `timestamptz`,
 * the UTC wall time for the naive `timestamp` Ecto makes. So one expression
 * compares either type with `DB_NOW`, whatever the session's TimeZone.
 */
const epoch = (column: string) => `extract(epoch from ${column})`;

/**
 * A timestamp column as epoch milliseconds (an int8, printed as digits): rows
 * never go through PostgreSQL's text form of dates, which follows `DateStyle`
 * (in `SQL, DMY` or `German` day and month swap) and `TimeZone`. Infinite
 * values read as the farthest instants a `Date` holds.
 */
const epochMs = (column: string) =>
  `CASE WHEN isfinite(${column}) THEN floor(${epoch(column)} * 1000)::int8 ` +
  `WHEN ${column} > 'epoch' THEN 8640000000000000 WHEN ${column} IS NOT NULL THEN -8640000000000000 END`;

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
    this.returning = this.columns
      .map((c) => (c.kind === 'date' ? `${epochMs(c.quoted)} AS ${c.quoted}` : c.quoted))
      .join(', ');
    // One statement per number of accepted secrets (rotation): `= ?` or `IN (?, ?)`.
    const digests = Math.max(1, options.secrets.length);
    this.selectByDigest = [];
    for (let n = 1; n <= digests; n++) {
      const match = n === 1 ? '= ?' : `IN (${Array(n).fill('?').join(', ')})`;
      this.selectByDigest[n] =
        `SELECT ${this.returning} FROM ${this.table} WHERE "auth_token_digest" ${match} AND ` +
        `${this.validNow} LIMIT 1`;
    }
  }

  /** The lookup `authenticate` sends: the digests; validity by the database's clock. */
  lookup(digests: string[]): Statement {
    return { sql: this.selectByDigest[digests.length], params: [...digests, ...this.absoluteParams] };
  }

  /** Whether a row is valid by the database's clock (its parameters: `absoluteParams`). */
  private get validNow(): string {
    return (
      `("expires_at" IS NULL OR ${epoch('"expires_at"')} > ${DB_NOW})` +
      (this.options.absoluteTtl !== null ? ` AND ${epoch('"inserted_at"')} > ${DB_NOW} - ?` : '')
    );
  }

  private get absoluteParams(): number[] {
    return this.options.absoluteTtl === null ? [] : [this.options.absoluteTtl];
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
   * A sliding extension (`whileValid`) also leaves alone a row that is no longer
   * valid by the database's clock when the UPDATE runs: `expire()` racing with a
   * request, or done by an instance whose clock disagrees with this one's, is
   * never undone (the request's own `now` may be seconds old or skewed).
   */
  extend(id: string, expiresAt: Date, now: Date, threshold: number, whileValid: boolean): Statement {
    const bound = iso(new Date(expiresAt.getTime() - threshold * 1000));
    return {
      sql:
        `UPDATE ${this.table} SET "expires_at" = ?, "updated_at" = ? ` +
        `WHERE "id" = ? AND "expires_at" < ?${whileValid ? ` AND ${this.validNow}` : ''} RETURNING "id"`,
      params: [iso(expiresAt), iso(now), id, bound, ...(whileValid ? this.absoluteParams : [])],
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
   * Ends a session at the database's now; one that already ended keeps its
   * expiry. The database's clock, not this instance's: one running behind would
   * leave the session valid a while longer for everyone else. The time is floored
   * to the second: a `timestamp(0)` column (as Ecto may make) would otherwise
   * round it up and leave the session valid for up to half a second. It is
   * written as `inserted_at` plus the seconds between, which gives the column's
   * own type (a naive `timestamp` holds UTC wall time) in any session TimeZone.
   */
  expire(id: string, at: Date): Statement {
    const floored = `"inserted_at" + make_interval(secs => (floor(${DB_NOW}) - ${epoch('"inserted_at"')})::float8)`;
    return {
      sql:
        `UPDATE ${this.table} SET "expires_at" = CASE WHEN "expires_at" IS NULL OR ${epoch('"expires_at"')} > ${DB_NOW} ` +
        `THEN ${floored} ELSE "expires_at" END, "updated_at" = ? WHERE "id" = ? RETURNING ${this.returning}`,
      params: [iso(at), id],
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
      sql: `SELECT pg_try_advisory_xact_lock(hashtext(?)) AS "locked", floor(${DB_NOW} * 1000)::int8 AS "now"`,
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
    now: Date | 'database',
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
    if (status !== 'all' && now === 'database') {
      clauses.push(status === 'valid' ? this.validNow : `NOT (${this.validNow})`);
      params.push(...this.absoluteParams);
    } else if (status !== 'all') {
      // A cutoff in time (pruning): plain comparisons, so the expires_at index serves them.
      const absolute = this.options.absoluteTtl !== null;
      if (status === 'valid')
        clauses.push(`("expires_at" IS NULL OR "expires_at" > ?)${absolute ? ' AND "inserted_at" > ?' : ''}`);
      else clauses.push(absolute ? '("expires_at" <= ? OR "inserted_at" <= ?)' : '"expires_at" <= ?');
      params.push(...this.validityParams(now as Date));
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
      session[column.property] = column.kind === 'date' ? fromEpochMs(value) : value;
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
 * A date column as the statements select it (`epochMs`): epoch milliseconds,
 * which pg gives as a string of digits (int8). A `Date` passes through (a driver
 * that parses int8 itself may give a number).
 */
export function fromEpochMs(value: unknown): Date | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value;
  return new Date(Number(value));
}
