import fc from 'fast-check';
import { resolveSessionsOptions } from './sessions-options';
import { isUuid, parseTimestamp, SessionStatements } from './session.statements';

describe('parseTimestamp', () => {
  it.each([
    ['2026-11-27 12:00:00+00', '2026-11-27T12:00:00.000Z'],
    ['2026-11-27 12:00:00.123456+00', '2026-11-27T12:00:00.123Z'],
    ['2026-11-28 01:45:00+13:45', '2026-11-27T12:00:00.000Z'],
    ['2026-11-27 08:30:00-03:30', '2026-11-27T12:00:00.000Z'],
    // naive `timestamp` (Ecto's utc_datetime without zone): read as UTC, not local time
    ['2026-11-27 12:00:00', '2026-11-27T12:00:00.000Z'],
    ['2026-11-27 12:00:00.5', '2026-11-27T12:00:00.500Z'],
    ['2026-11-27T12:00:00Z', '2026-11-27T12:00:00.000Z'],
    // rarer forms, read by the regular expression: an offset with seconds (dropped, as before)
    ['2026-11-27 12:00:00+05:30:15', '2026-11-27T06:30:00.000Z'],
  ])('%s → %s', (text, iso) => {
    expect(parseTimestamp(text)!.toISOString()).toBe(iso);
  });

  it('reads every form PostgreSQL prints, at any instant, fraction and offset', () => {
    const pad = (n: number, width = 2) => String(Math.abs(n)).padStart(width, '0');
    fc.assert(
      fc.property(
        fc.integer({ min: Date.UTC(1000, 0, 2), max: Date.UTC(9999, 11, 30) }),
        fc.integer({ min: 0, max: 999_999 }),
        fc.integer({ min: 0, max: 6 }),
        fc.integer({ min: -48, max: 56 }).map((quarters) => quarters * 15),
        fc.constantFrom(' ', 'T'),
        fc.constantFrom('+05:45', '+0545', '+05', 'Z', ''),
        (ms, micros, digits, offset, separator, style) => {
          const instant = Math.floor(ms / 1000) * 1000;
          const usesOffset = style !== 'Z' && style !== '';
          const local = new Date(instant + (usesOffset ? offset : 0) * 60_000);
          const fraction = digits ? `.${String(micros).padStart(6, '0').slice(0, digits)}` : '';
          const zone = !usesOffset
            ? style
            : `${offset < 0 ? '-' : '+'}${pad(Math.trunc(offset / 60))}` +
              (style === '+05' && offset % 60 === 0 ? '' : `${style === '+0545' ? '' : ':'}${pad(offset % 60)}`);
          const text =
            `${local.getUTCFullYear()}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())}${separator}` +
            `${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())}${fraction}${zone}`;
          const millis = digits ? Number(`${fraction.slice(1)}00`.slice(0, 3)) : 0;
          expect(parseTimestamp(text)!.getTime()).toBe(instant + millis);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('keeps null and Dates', () => {
    expect(parseTimestamp(null)).toBeNull();
    const d = new Date();
    expect(parseTimestamp(d)).toBe(d);
  });
});

describe('SessionStatements', () => {
  const options = resolveSessionsOptions({ schema: 'auth', tableName: 'we"ird' });
  const statements = new SessionStatements(options);

  it('quotes the schema and table', () => {
    expect(statements.table).toBe('"auth"."we""ird"');
  });

  it('looks a token up by digest on the unique index, with the validity bound', () => {
    const { sql, params } = statements.lookup(['d1'], new Date('2026-01-01T00:00:00Z'));
    expect(sql).toMatch(/WHERE "auth_token_digest" = \? AND \("expires_at" IS NULL OR "expires_at" > \?\) LIMIT 1$/);
    expect(params).toEqual(['d1', '2026-01-01T00:00:00.000Z']);
  });

  it('never turns a filter into no filter', () => {
    const where = (filters: object) => statements.where(filters as never, new Date(), () => [], 'all', 'list');
    expect(where({ id: 'nope' }).sql).toBe(' WHERE FALSE');
    expect(where({ token: 'x' }).sql).toBe(' WHERE FALSE');
    expect(() => where({ userId: undefined })).toThrow(/filter "userId"/);
    expect(() => where({ userId: {} })).toThrow(/filter "userId"/);
    expect(() => where({ userId: NaN })).toThrow(/filter "userId"/);
    expect(() => where({ __proto__: 'x', evil: 1 })).toThrow(/unknown property "evil"/);
  });

  it('isUuid', () => {
    expect(isUuid('00000000-0000-4000-8000-000000000001')).toBe(true);
    expect(isUuid("1' OR '1'='1")).toBe(false);
  });
});
