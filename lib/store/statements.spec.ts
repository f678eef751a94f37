import fc from 'fast-check';
import { resolveSessionsOptions } from '../options/resolve-options';
import { SessionStatements } from './statements';
import { fromEpochMs } from './timestamps';
import { isUuid } from './values';

describe('fromEpochMs', () => {
  it('reads the epoch milliseconds the statements select (int8 digits), exactly', () => {
    fc.assert(
      fc.property(fc.integer({ min: -8.64e15, max: 8.64e15 }), (ms) => {
        expect(fromEpochMs(String(ms))!.getTime()).toBe(ms);
        expect(fromEpochMs(ms)!.getTime()).toBe(ms);
      }),
      { numRuns: 500 },
    );
  });

  it('keeps null and Dates', () => {
    expect(fromEpochMs(null)).toBeNull();
    const d = new Date();
    expect(fromEpochMs(d)).toBe(d);
  });
});

describe('SessionStatements', () => {
  const options = resolveSessionsOptions({ schema: 'auth', tableName: 'we"ird' });
  const statements = new SessionStatements(options);

  it('quotes the schema and table', () => {
    expect(statements.table).toBe('"auth"."we""ird"');
  });

  it('looks a token up by digest on the unique index, valid by the database clock', () => {
    const { sql, params } = statements.lookup(['d1']);
    expect(sql).toMatch(
      /WHERE "auth_token_digest" = \? AND \("expires_at" IS NULL OR extract\(epoch from "expires_at"\) > extract\(epoch from clock_timestamp\(\)\)\) LIMIT 1$/,
    );
    expect(params).toEqual(['d1']);
  });

  it('selects timestamps as epoch milliseconds, never in the text form DateStyle shapes', () => {
    const { sql } = statements.lookup(['d1']);
    expect(sql).toContain('floor(extract(epoch from "expires_at") * 1000)::int8');
    expect(sql).not.toMatch(/SELECT[^;]*, "expires_at",/);
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
