import type { Statement, Where } from './statements';
import { DB_NOW } from './timestamps';

/**
 * Takes the pruning lock of `table` (quoted) for the current transaction: one
 * instance of many prunes a table at a time, and the lock goes with the transaction.
 */
export function pruneLock(table: string): Statement {
  return {
    sql: `SELECT pg_try_advisory_xact_lock(hashtext(?)) AS "locked", floor(${DB_NOW} * 1000)::int8 AS "now"`,
    params: [`nestjs-ecto-sessions:${table}`],
  };
}

/**
 * Deletes at most `limit` rows of `table` (quoted) that `expired` matches; rows
 * another transaction holds are skipped rather than waited for.
 */
export function pruneBatch(table: string, expired: Where, limit: number): Statement {
  return {
    sql:
      `DELETE FROM ${table} WHERE "id" IN ` +
      `(SELECT "id" FROM ${table}${expired.sql} LIMIT ? FOR UPDATE SKIP LOCKED)`,
    params: [...expired.params, limit],
  };
}
