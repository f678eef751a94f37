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
  ])('%s → %s', (text, iso) => {
    expect(parseTimestamp(text)!.toISOString()).toBe(iso);
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
