import type { SessionFilters, SessionStatus } from '../service/filters.interface';
import type { Column } from './columns';
import { iso } from './timestamps';
import type { Condition } from './validity';
import { assertString, assertValue, describeValue, isPlainObject, isUuid } from './values';

/** A column with its quoted name, as the statements write it. */
export interface SqlColumn extends Column {
  quoted: string;
}

/** A WHERE clause (empty or starting with ` WHERE`) and its parameters. */
export interface Where {
  sql: string;
  params: unknown[];
}

/** What a WHERE clause needs of its kind: its columns, what a token matches, and what valid and ended mean here. */
export interface WhereContext {
  /** The column of a property; throws for an unknown one. */
  column(property: string): SqlColumn;
  /**
   * The rows a plaintext token matches (with rotation, also by the token a
   * rotation replaced, inside its grace); `null` for a token that cannot be ours.
   */
  token(token: string): Condition | null;
  valid: Condition;
  ended: Condition;
}

const STATUSES: ReadonlySet<string> = new Set<SessionStatus>(['valid', 'expired', 'all']);

/**
 * A WHERE clause from filters. Unknown keys, `undefined` values and values of
 * the wrong type throw, so a filter object never widens to every session.
 */
export function whereClause(
  filters: SessionFilters,
  kind: WhereContext,
  defaultStatus: SessionStatus,
  method: string,
  allowExceptId: boolean,
): Where {
  if (!isPlainObject(filters)) {
    throw new TypeError(`${method}: filters must be a plain object, got ${describeValue(filters)}`);
  }
  const clauses: string[] = [];
  const params: unknown[] = [];
  let status: SessionStatus = defaultStatus;
  for (const [key, value] of Object.entries(filters)) {
    if (key === 'status') {
      if (!STATUSES.has(value as string)) {
        throw new TypeError(`${method}: status must be "valid", "expired" or "all", got ${describeValue(value)}`);
      }
      status = value as SessionStatus;
    } else if (key === 'exceptId') {
      if (!allowExceptId) throw new TypeError(`${method}: unknown filter "exceptId"`);
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
      const match = kind.token(value as string);
      clauses.push(match === null ? 'FALSE' : match.sql);
      if (match) params.push(...match.params);
    } else {
      if (key === 'authTokenDigest' || key === 'previousAuthTokenDigest' || key === 'data') {
        throw new TypeError(`${method}: cannot filter on "${key}"`);
      }
      const column = kind.column(key);
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
  if (status !== 'all') {
    const condition = status === 'valid' ? kind.valid : kind.ended;
    clauses.push(condition.sql);
    params.push(...condition.params);
  }
  return { sql: clauses.length ? ` WHERE ${clauses.join(' AND ')}` : '', params };
}

/** A value as a statement parameter of its column. */
export function toParam(column: Column, value: unknown): unknown {
  if (value === null) return null;
  if (column.type === 'json') return JSON.stringify(value);
  if (column.type === 'datetime') {
    const date = value instanceof Date ? value : new Date(value as string);
    if (Number.isNaN(date.getTime())) throw new TypeError(`"${column.property}" must be a valid date`);
    return iso(date);
  }
  return value;
}
