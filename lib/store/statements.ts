import type { ResolvedSessionsOptions } from '../options/options.interface';
import type { ListOptions, SessionFilters, SessionStatus } from '../service/filters.interface';
import { columnsOf } from './columns';
import { DB_NOW, epoch, epochText, iso } from './timestamps';
import { type Condition, LAST_USE_DUE, Validity } from './validity';
import { assertValue, describeValue } from './values';
import { type SqlColumn, toParam, type Where, whereClause } from './where';

export type { Where } from './where';

/** A statement with `?` placeholders, as the ORM connection's `execute` takes it. */
export interface Statement {
  sql: string;
  params: unknown[];
}

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
  readonly columns: SqlColumn[];
  private readonly byProperty = new Map<string, SqlColumn>();
  /** Properties `create` and `update` may set besides `data`: the extra columns, and `scopes` when on. */
  private readonly writable: Set<string>;
  /** The columns a statement gives back: all but the write-only ones. */
  readonly returning: string;
  readonly selectByDigest: string[];
  readonly validity: Validity;
  /** With rotation: the grace, in seconds, of a replaced token. */
  private readonly grace: number | null;

  constructor(private readonly options: ResolvedSessionsOptions) {
    this.table = (options.schema ? `${quote(options.schema)}.` : '') + quote(options.tableName);
    this.writable = new Set([...Object.keys(options.columns), ...(options.scopes ? ['scopes'] : [])]);
    this.validity = new Validity(options.absoluteTtl);
    this.grace = options.rotation?.grace ?? null;
    this.columns = columnsOf(options.columns, options).map((column) => ({ ...column, quoted: quote(column.field) }));
    for (const column of this.columns) this.byProperty.set(column.property, column);
    this.returning = this.columns
      .filter((c) => !c.writeOnly)
      .map((c) => (c.type === 'datetime' ? `${epochText(c.quoted)} AS ${c.quoted}` : c.quoted))
      .join(', ');
    // One statement per number of accepted secrets (rotation): `= ?` or `IN (?, ?)`.
    const digests = Math.max(1, options.secrets.length);
    this.selectByDigest = [];
    for (let n = 1; n <= digests; n++) {
      this.selectByDigest[n] =
        `SELECT ${this.returning} FROM ${this.table} WHERE ${this.tokenSql(n)} AND ${this.validity.now().sql} LIMIT 1`;
    }
  }

  /** The lookup `authenticate` sends: the digests; validity by the database's clock. */
  lookup(digests: string[]): Statement {
    return {
      sql: this.selectByDigest[digests.length],
      params: [...this.tokenParams(digests), ...this.validity.now().params],
    };
  }

  /** The rows a token's digests match: the lookup's and the `token` filter's one condition. */
  tokenMatch(digests: string[]): Condition {
    return { sql: this.tokenSql(digests.length), params: this.tokenParams(digests) };
  }

  /**
   * A token's row by one of `n` digests. With rotation, the token a rotation
   * replaced matches too, inside its grace by the database's clock (both
   * columns indexed: a bitmap OR of two lookups).
   */
  private tokenSql(n: number): string {
    const match = n === 1 ? '= ?' : `IN (${Array(n).fill('?').join(', ')})`;
    if (this.grace === null) return `"auth_token_digest" ${match}`;
    return (
      `("auth_token_digest" ${match} OR ("previous_auth_token_digest" ${match} AND ` +
      `${epoch('"rotated_at"')} > ${DB_NOW} - ?))`
    );
  }

  private tokenParams(digests: string[]): unknown[] {
    return this.grace === null ? digests : [...digests, ...digests, this.grace];
  }

  /**
   * The lookup with its values written in as literals, for a replica, where it
   * follows another statement in one round trip (no parameters there). Digests
   * (hex, or a plaintext token of URL-safe characters) are checked to be only
   * such characters first.
   */
  lookupText(digests: string[]): string {
    const values = this.lookup(digests).params.map((param) => {
      if (typeof param === 'number') return String(param);
      if (typeof param !== 'string' || !/^[A-Za-z0-9_-]+$/.test(param))
        throw new TypeError('lookup: a digest of unexpected characters');
      return `'${param}'`;
    });
    let n = 0;
    return this.selectByDigest[digests.length].replace(/\?/g, () => values[n++]);
  }

  insert(values: Record<string, unknown>): Statement {
    const columns = this.columns.filter((c) => values[c.property] !== undefined);
    for (const c of columns)
      if (this.writable.has(c.property)) assertValue('create', 'attribute', c, values[c.property]);
    const placeholders = columns.map((c) => (c.type === 'json' ? '?::jsonb' : '?'));
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
  extend(
    id: string,
    expiresAt: Date,
    now: Date,
    threshold: number,
    whileValid: boolean,
    lastUseInterval: number | null = null,
  ): Statement {
    const bound = iso(new Date(expiresAt.getTime() - threshold * 1000));
    const valid = whileValid ? this.validity.now() : { sql: '', params: [] };
    // With trackLastUsed, a due last use rides along: one write for both.
    const lastUse =
      lastUseInterval === null
        ? ''
        : `, "last_used_at" = CASE WHEN ${LAST_USE_DUE} THEN clock_timestamp() ELSE "last_used_at" END`;
    return {
      sql:
        `UPDATE ${this.table} SET "expires_at" = ?, "updated_at" = ?${lastUse} ` +
        `WHERE "id" = ? AND "expires_at" < ?${whileValid ? ` AND ${valid.sql}` : ''} RETURNING "id"`,
      params: [
        iso(expiresAt),
        iso(now),
        ...(lastUseInterval === null ? [] : [lastUseInterval]),
        id,
        bound,
        ...valid.params,
      ],
    };
  }

  /** Sets `data` (merged at the top level, atomically, with `mergeData`) and columns. */
  update(id: string, values: Record<string, unknown>, now: Date, mergeData = false): Statement {
    const sets: string[] = ['"updated_at" = ?'];
    const params: unknown[] = [iso(now)];
    for (const [property, value] of Object.entries(values)) {
      if (value === undefined) continue;
      const column = this.column(property, 'update');
      if (property !== 'data' && !this.writable.has(property)) {
        throw new TypeError(`update: "${property}" cannot be changed`);
      }
      if (this.writable.has(property)) assertValue('update', 'attribute', column, value);
      const merge = mergeData && property === 'data' ? `${column.quoted} || ` : '';
      sets.push(`${column.quoted} = ${merge}${column.type === 'json' ? '?::jsonb' : '?'}`);
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
  expire(ids: string | string[], at: Date): Statement {
    const list = typeof ids === 'string' ? [ids] : ids;
    const floored = `"inserted_at" + make_interval(secs => (floor(${DB_NOW}) - ${epoch('"inserted_at"')})::float8)`;
    return {
      sql:
        `UPDATE ${this.table} SET "expires_at" = CASE WHEN "expires_at" IS NULL OR ${epoch('"expires_at"')} > ${DB_NOW} ` +
        `THEN ${floored} ELSE "expires_at" END, "updated_at" = ? ` +
        `WHERE "id" IN (${list.map(() => '?').join(', ')}) RETURNING ${this.returning}`,
      params: [iso(at), ...list],
    };
  }

  select(filters: Where, list: ListOptions = {}): Statement {
    const { limit = 100, offset = 0, orderBy = { insertedAt: 'desc' } } = list;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
      throw new TypeError(`list: limit must be a whole number from 1 to ${MAX_LIMIT}, got ${describeValue(limit)}`);
    }
    if (!Number.isInteger(offset) || offset < 0) {
      throw new TypeError(`list: offset must be a whole number >= 0, got ${describeValue(offset)}`);
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
   * A WHERE clause from filters (see `whereClause`): by the database's clock, or
   * at `now` as plain comparisons the expires_at index serves (pruning's cutoff).
   */
  where(
    filters: SessionFilters,
    now: Date | 'database',
    digestsOf: (token: string) => string[],
    defaultStatus: SessionStatus,
    method: string,
    allowExceptId = false,
  ): Where {
    const { validity } = this;
    const valid = now === 'database' ? validity.now() : validity.at(now);
    const ended = now === 'database' ? validity.endedNow() : validity.endedAt(now);
    const column = (property: string) => this.column(property, method);
    const token = (value: string) => {
      const digests = digestsOf(value);
      return digests.length === 0 ? null : this.tokenMatch(digests);
    };
    return whereClause(filters, { column, token, valid, ended }, defaultStatus, method, allowExceptId);
  }

  private column(property: string, method: string): SqlColumn {
    const column = this.byProperty.get(property);
    if (!column) {
      throw new TypeError(
        `${method}: unknown property "${property}"; known: ${[...this.byProperty.keys()].join(', ')}`,
      );
    }
    return column;
  }
}

export function quote(identifier: string): string {
  return `"${identifier.replace(/"/g, '""')}"`;
}
