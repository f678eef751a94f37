import fc from 'fast-check';
import { MeController } from './support/me.controller';
import { createTestApp, type TestApp } from './support/app';
import { rawRequest } from './support/http';

/** Header values as raw bytes: printable junk, control bytes, non-ASCII, oversized, crafted. */
const headerBytes = fc.oneof(
  fc.string({ maxLength: 300 }),
  fc
    .uint8Array({ minLength: 1, maxLength: 300 })
    .map((bytes) => Buffer.from(bytes.filter((b) => b !== 10 && b !== 13)).toString('latin1')),
  fc.string({ unit: 'grapheme', maxLength: 60 }).map((s) => Buffer.from(s, 'utf8').toString('latin1')),
  fc.string({ minLength: 2000, maxLength: 8000 }),
  fc.constantFrom(
    "' OR 1=1 --",
    '%E0%A4%A',
    '%%',
    '${jndi:ldap://x}',
    '{{7*7}}',
    '\u0000\u0001\u0002',
    'Bearer',
    'Bearer ',
    'Basic dXNlcjpwYXNz',
  ),
);

describe.each(['express', 'fastify'] as const)('hostile headers and cookies (fast-check, %s)', (adapter) => {
  let t: TestApp;
  let token: string;
  let cases = 0;

  beforeAll(async () => {
    t = await createTestApp({ kinds: [{}], controllers: [MeController], adapter, listen: true });
    ({ token } = await t.sessions().create({ userId: 'u' }));
  });
  afterAll(async () => {
    console.log(`hostile-http (${adapter}): ${cases} requests`);
    await t.close();
  });

  it('never a 5xx, never a match, no query for a token that cannot be ours', async () => {
    const where = fc.constantFrom(
      'x-auth-token: ',
      'Authorization: Bearer ',
      'Authorization: ',
      'Cookie: auth_token=',
      'Cookie: a=1; auth_token=',
    );
    await fc.assert(
      fc.asyncProperty(where, headerBytes, async (prefix, value) => {
        cases++;
        t.log.clear();
        const { status } = await rawRequest(`${t.url}/me`, [prefix + value]);
        // 400: the HTTP parser refused the bytes; 401: the guard refused the token.
        expect([400, 401]).toContain(status);
        expect(t.log.statements).toHaveLength(0); // junk never reaches the database
      }),
      { numRuns: 250 },
    );
  });

  it('near misses and doubled tokens in every source never match', async () => {
    const nearMiss = fc.oneof(
      fc.nat({ max: 63 }).map((i) => token.slice(0, i) + (token[i] === 'A' ? 'B' : 'A') + token.slice(i + 1)),
      fc.constantFrom(
        `${token}${token}`,
        `${token},${token}`,
        `${token} ${token}`,
        `"${token}`,
        `${token}%00`,
        token.toUpperCase(),
      ),
    );
    // fetch, not a raw socket: these reach the database, and a half-closed socket would not wait for the answer.
    const source = fc.constantFrom(
      (v: string) => ({ 'x-auth-token': v }),
      (v: string) => ({ authorization: `Bearer ${v}` }),
      (v: string) => ({ cookie: `auth_token=${v}` }),
    );
    await fc.assert(
      fc.asyncProperty(source, nearMiss, async (headers, value) => {
        cases++;
        const { status } = await fetch(`${t.url}/me`, { headers: headers(value) });
        expect(status).toBe(401);
      }),
      { numRuns: 150 },
    );
    expect((await fetch(`${t.url}/me`, { headers: { 'x-auth-token': token } })).status).toBe(200);
  });
});
