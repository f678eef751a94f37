/**
 * How times cross the wire: written as UTC ISO strings (right for `timestamptz`,
 * and stored as UTC wall time in the naive `timestamp` Ecto makes), read as
 * epoch seconds (`epochText`), and compared with the database's clock.
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
 * A timestamp column as epoch seconds, as text (`1733070000.123456`,
 * `Infinity`): rows never go through PostgreSQL's text form of dates, which
 * follows `DateStyle` (in `SQL, DMY` or `German` day and month swap) and
 * `TimeZone`, nor through a type parser an app may have set for `numeric` or
 * `int8`; numeric's text form follows no setting. Plain `extract`, because
 * every statement is parsed and planned again (no prepared statements, for
 * transaction poolers): the former `CASE WHEN isfinite(…) THEN
 * floor(… * 1000)::int8 …` cost the server about 35 µs more a lookup than this
 * (a PL/pgSQL loop of 8,000 EXECUTEs, best of four: 81–90 µs against 49–52 µs;
 * the floor's raw columns 30–33 µs; 2026-12-01, PostgreSQL 15).
 * Exact on PostgreSQL 14 or later, where `extract` gives `numeric`; on 12
 * and 13 it gives a float, read to within a millisecond.
 */
export const epochText = (column: string) => `${epoch(column)}::text`;

/** The farthest instant a `Date` holds, in ms either side of 1970. */
const DATE_LIMIT_MS = 8.64e15;

/** UTC, with a `Z`. Throws for an invalid date. */
export function iso(date: Date): string {
  return date.toISOString();
}

/**
 * A date column as the statements select it (`epochText`): epoch seconds with
 * up to six decimals, read to the millisecond, rounded down, exactly (from the
 * digits, not through a float: `1733070000.123` seconds is not
 * `1733070000.123 * 1000` ms in binary). Infinities and instants beyond a
 * `Date`'s range read as the farthest it holds. A `Date` passes through.
 */
export function fromEpochSeconds(value: unknown): Date | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value;
  const text = String(value);
  const dot = text.indexOf('.');
  let ms: number;
  // A float in exponent form (`1.5e-05`): what PostgreSQL 12 and 13, whose `extract` gives a float, print near 1970.
  if (/[eE]/.test(text)) ms = Math.floor(Number(text) * 1000);
  else if (dot === -1) ms = Number(text) * 1000;
  else {
    const fraction = text.slice(dot + 1);
    ms = Number(text.slice(0, dot) + fraction.slice(0, 3).padEnd(3, '0'));
    // Below zero, dropping digits rounded up: one more millisecond down is the floor.
    if (text.startsWith('-') && /[1-9]/.test(fraction.slice(3))) ms -= 1;
  }
  return new Date(Math.max(-DATE_LIMIT_MS, Math.min(DATE_LIMIT_MS, ms)));
}
