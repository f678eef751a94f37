import fc from 'fast-check';
import { resolveSessionsOptions } from '../options/resolve-options';
import { SessionStatements } from './statements';
import { fromEpochSeconds } from './timestamps';
import { isUuid } from './values';

describe('fromEpochSeconds', () => {
  /** `ms` and `micros` (0–999) as PostgreSQL prints `extract(epoch from …)::text`: seconds, six decimals. */
  const printed = (ms: number, micros: number) => {
    const total = BigInt(ms) * 1000n + BigInt(micros);
    const sign = total < 0n ? '-' : '';
    const abs = total < 0n ? -total : total;
    return `${sign}${abs / 1_000_000n}.${String(abs % 1_000_000n).padStart(6, '0')}`;
  };

  it('reads epoch seconds to the millisecond, rounded down, exactly', () => {
    fc.assert(
      fc.property(fc.integer({ min: -8.64e15, max: 8.64e15 - 1 }), fc.integer({ min: 0, max: 999 }), (ms, micros) => {
        expect(fromEpochSeconds(printed(ms, micros))!.getTime()).toBe(ms);
      }),
      { numRuns: 2000 },
    );
  });

  it('reads what the server prints around 1970, and whole seconds', () => {
    expect(fromEpochSeconds('0.000000')!.getTime()).toBe(0);
    expect(fromEpochSeconds('-0.000500')!.getTime()).toBe(-1);
    expect(fromEpochSeconds('-0.500000')!.getTime()).toBe(-500);
    expect(fromEpochSeconds('-1.000001')!.getTime()).toBe(-1001);
    expect(fromEpochSeconds('1704067200.123400')!.getTime()).toBe(1704067200123);
    expect(fromEpochSeconds('1704067200')!.getTime()).toBe(1704067200000);
    expect(fromEpochSeconds(1704067200)!.getTime()).toBe(1704067200000);
  });

  it('reads the exponent form a float takes near 1970 (PostgreSQL 12 and 13)', () => {
    expect(fromEpochSeconds('1.5e-05')!.getTime()).toBe(0);
    expect(fromEpochSeconds('-9.9e-05')!.getTime()).toBe(-1);
    expect(fromEpochSeconds('0.0005')!.getTime()).toBe(0);
  });

  it('reads infinities and instants beyond a Date as the farthest a Date holds', () => {
    expect(fromEpochSeconds('Infinity')!.getTime()).toBe(8.64e15);
    expect(fromEpochSeconds('-Infinity')!.getTime()).toBe(-8.64e15);
    expect(fromEpochSeconds('9224318016000.000000')!.getTime()).toBe(8.64e15); // '294276-12-31 23:59:59.999999+00', as PostgreSQL 15 prints it
    expect(fromEpochSeconds('-210863520000.000000')!.getTime()).toBe(-210863520000000); // '4713-01-01 BC', idem
  });

  it('keeps null and Dates', () => {
    expect(fromEpochSeconds(null)).toBeNull();
    const d = new Date();
    expect(fromEpochSeconds(d)).toBe(d);
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

  it('selects timestamps as epoch seconds as text, never in the text form DateStyle shapes', () => {
    const { sql } = statements.lookup(['d1']);
    expect(sql).toContain('extract(epoch from "expires_at")::text AS "expires_at"');
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
