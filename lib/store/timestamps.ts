/**
 * How times cross the wire: written as UTC ISO strings (right for `timestamptz`,
 * and stored as UTC wall time in the naive `timestamp` Ecto makes), read as
 * epoch milliseconds, and compared with the database's clock.
 */

/**
 * The database's clock, read when the row is checked: every instance judges
 * validity by this one clock, so neither clock skew between instances nor a
 * request that waited for a pooled connection can see (or slide) a session the
 * database already expired. `clock_timestamp()`, not `now()`: a statement that
 * waited on a row lock held by `expire()` reads a time after that commit.
 */
export const DB_NOW = 'extract(epoch from clock_timestamp())';

/**
 * Seconds since 1970 of a timestamp column: the true instant for `timestamptz`,
 * the UTC wall time for the naive `timestamp` Ecto makes. So one expression
 * compares either type with `DB_NOW`, whatever the session's TimeZone.
 */
export const epoch = (column: string) => `extract(epoch from ${column})`;

/**
 * A timestamp column as epoch milliseconds (an int8, printed as digits): rows
 * never go through PostgreSQL's text form of dates, which follows `DateStyle`
 * (in `SQL, DMY` or `German` day and month swap) and `TimeZone`. Infinite
 * values read as the farthest instants a `Date` holds.
 */
export const epochMs = (column: string) =>
  `CASE WHEN isfinite(${column}) THEN floor(${epoch(column)} * 1000)::int8 ` +
  `WHEN ${column} > 'epoch' THEN 8640000000000000 WHEN ${column} IS NOT NULL THEN -8640000000000000 END`;

/** UTC, with a `Z`. Throws for an invalid date. */
export function iso(date: Date): string {
  return date.toISOString();
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
