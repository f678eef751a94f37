import fc from 'fast-check';
import type { SessionsService } from '../lib';
import { createTestApp, type TestApp } from './support/app';

/** Strings chosen to hurt: injections, encodings, control bytes, the near-alphabet. */
const CRAFTED = [
  "' OR '1'='1",
  "'; DROP TABLE sessions; --",
  '"; SELECT pg_sleep(10); --',
  '$1',
  '?',
  '??',
  '\\',
  '{{7*7}}',
  '${7*7}',
  '<%= 7*7 %>',
  '%00',
  '%E0%A4%A',
  '\u0000',
  '\r\nSet-Cookie: x=y',
  '../../etc/passwd',
  'null',
  'undefined',
  '[object Object]',
  'A'.repeat(8192),
  '='.repeat(64),
  '+/'.repeat(32),
];

/** Every way a near-miss of a real token can be made. */
const nearMisses = (token: string): fc.Arbitrary<string> =>
  fc.oneof(
    fc.nat({ max: token.length - 1 }).chain((i) =>
      fc
        .constantFrom(...'ABCabc012_-'.split(''))
        .filter((c) => c !== token[i])
        .map((c) => token.slice(0, i) + c + token.slice(i + 1)),
    ),
    fc.nat({ max: token.length - 1 }).map((n) => token.slice(0, n)),
    fc.string({ minLength: 1, maxLength: 8 }).map((extra) => token + extra),
    fc.constantFrom(
      token + token,
      `${token}, ${token}`,
      ` ${token}`,
      `${token} `,
      token.toUpperCase(),
      token.toLowerCase(),
      encodeURIComponent(token + '='),
    ),
  );

describe('hostile input (fast-check)', () => {
  let t: TestApp;
  let sessions: SessionsService;
  let token: string;
  let runs = 0;

  beforeAll(async () => {
    t = await createTestApp({ kinds: [{}] });
    sessions = t.sessions();
    ({ token } = await sessions.create({ userId: 'victim' }));
  });
  afterAll(async () => {
    console.log(`hostile-input: ${runs} cases`);
    await t.close();
  });

  it('a token that cannot be ours never matches and costs no query', async () => {
    const junk = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc.string({ unit: 'grapheme', maxLength: 100 }),
      fc.string({ minLength: 65, maxLength: 10_000 }),
      fc.constantFrom(...CRAFTED),
      nearMisses(token).filter((s) => s.length !== 64 || !/^[A-Za-z0-9_-]+$/.test(s)),
    );
    await fc.assert(
      fc.asyncProperty(junk, async (value) => {
        runs++;
        t.log.clear();
        expect(await sessions.authenticate(value)).toBeNull();
        expect(t.log.statements).toHaveLength(0);
      }),
      { numRuns: 2000 },
    );
  });

  it('well-formed near misses are looked up once and never match', async () => {
    await fc.assert(
      fc.asyncProperty(
        nearMisses(token).filter((s) => s !== token && s.length === 64 && /^[A-Za-z0-9_-]+$/.test(s)),
        async (value) => {
          runs++;
          t.log.clear();
          expect(await sessions.authenticate(value)).toBeNull();
          expect(t.log.statements).toHaveLength(1);
        },
      ),
      { numRuns: 300 },
    );
    expect(await sessions.authenticate(token)).not.toBeNull();
  });

  it('wrong types from JavaScript callers give null or a clear error, never a query that widens', async () => {
    const anything = fc.oneof(
      fc.integer(),
      fc.double(),
      fc.boolean(),
      fc.constant(null),
      fc.constant(undefined),
      fc.array(fc.string(), { maxLength: 3 }),
      fc.object({ maxDepth: 2 }),
      fc.constant({ $ne: null }),
      fc.constant({ toString: () => token }),
      fc.date(),
    );
    await fc.assert(
      fc.asyncProperty(anything, async (value) => {
        runs++;
        t.log.clear();
        // as a token
        expect(await sessions.authenticate(value as never)).toBeNull();
        expect(t.log.statements).toHaveLength(0);
        // as a filter value: a TypeError (or, for a scalar, a filter that matches nothing of the victim's)
        for (const key of ['userId', 'id', 'token']) {
          let result: unknown;
          try {
            result = await sessions.list({ [key]: value } as never);
          } catch (error) {
            expect(error).toBeInstanceOf(TypeError);
            continue;
          }
          expect((result as unknown[]).length).toBe(0);
        }
        // as the whole filter object: only "no filter" (undefined, as when left out, or {}) counts everything
        const counted = await sessions.count(value as never).then(
          (n) => n,
          (error: unknown) => error,
        );
        const noFilter =
          value === undefined ||
          (typeof value === 'object' &&
            value !== null &&
            !Array.isArray(value) &&
            !(value instanceof Date) &&
            Object.keys(value).length === 0);
        if (noFilter) expect(counted).toBe(1);
        else expect(counted).toBeInstanceOf(TypeError);
        // as an id to act on
        try {
          expect(await sessions.delete(value as never)).toBe(false);
        } catch (error) {
          expect(error).toBeInstanceOf(TypeError);
        }
      }),
      { numRuns: 300 },
    );
    expect(await sessions.count({ userId: 'victim' })).toBe(1);
  });
});
