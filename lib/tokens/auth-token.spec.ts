import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { digest, generateToken, isWellFormedToken, MIN_TOKEN_LENGTH } from './auth-token';

interface Vectors {
  vectors: Array<{ token: string; algorithm: string | null; secret: string | null; digest: string }>;
  errors: Array<{ token: string; algorithm: string | null; secret: string | null; why: string }>;
}

// The seed's vectors, copied into the repository so that a lone clone can run them;
// when the shared copy sits beside the repository, the two must agree.
const fixture = join(__dirname, '../../test/fixtures/ecto_digest.json');
const shared = join(__dirname, '../../../shared/vectors/ecto_digest.json');
const vectors: Vectors = JSON.parse(readFileSync(fixture, 'utf8'));

describe('digest', () => {
  it('uses the same vectors as shared/vectors when they are present', () => {
    if (!existsSync(shared)) return;
    expect(JSON.parse(readFileSync(shared, 'utf8'))).toEqual(vectors);
  });

  it.each(vectors.vectors)(
    'reproduces the seed: $algorithm / $secret',
    ({ token, algorithm, secret, digest: expected }) => {
      expect(digest(token, algorithm, secret)).toBe(expected);
    },
  );

  it.each(vectors.errors)('refuses: $why', ({ token, algorithm, secret }) => {
    expect(() => digest(token, algorithm, secret)).toThrow(TypeError);
  });

  it('refuses an unknown algorithm and a non-string token', () => {
    expect(() => digest('sample', 'nope')).toThrow(/unknown hash algorithm/);
    expect(() => digest(42 as unknown as string, 'sha256')).toThrow(/non-empty string/);
  });

  it('gives lowercase hex', () => {
    expect(digest('sample', 'sha256', 'pepper')).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('generateToken', () => {
  it('defaults to 64 URL-safe base64 characters', () => {
    const token = generateToken();
    expect(token).toHaveLength(64);
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
  });

  it('gives the requested length and never repeats', () => {
    const tokens = new Set(Array.from({ length: 1000 }, () => generateToken(22)));
    expect(tokens.size).toBe(1000);
    for (const token of tokens) expect(token).toHaveLength(22);
  });

  it('uses the whole alphabet (about evenly)', () => {
    const counts = new Map<string, number>();
    for (const c of Array.from({ length: 200 }, () => generateToken(512)).join(''))
      counts.set(c, (counts.get(c) ?? 0) + 1);
    expect(counts.size).toBe(64);
    const expected = (200 * 512) / 64;
    for (const n of counts.values()) expect(Math.abs(n - expected) / expected).toBeLessThan(0.2);
  });

  it(`refuses lengths under ${MIN_TOKEN_LENGTH} (128 bits) and non-integers`, () => {
    expect(() => generateToken(21)).toThrow(/at least 22/);
    expect(() => generateToken(30.5)).toThrow(/whole number/);
    expect(() => generateToken('64' as unknown as number)).toThrow(/whole number/);
    expect(() => generateToken(100_000)).toThrow(/at most/);
  });
});

describe('isWellFormedToken', () => {
  const token = generateToken(64);
  it.each([
    ['a real token', token, true],
    ['empty', '', false],
    ['one character short', token.slice(1), false],
    ['one character long', token + 'a', false],
    ['a character outside the alphabet', token.slice(1) + '=', false],
    ['a space', token.slice(1) + ' ', false],
    ['non-ASCII', token.slice(1) + 'é', false],
    ['a number', 42, false],
    ['an object', { token }, false],
    ['null', null, false],
  ])('%s → %s', (_, value, ok) => {
    expect(isWellFormedToken(value, 64)).toBe(ok);
  });

  it('checks a prefix', () => {
    expect(isWellFormedToken(`sk_live_${token}`, 64, 'sk_live_')).toBe(true);
    expect(isWellFormedToken(`sk_test_${token}`, 64, 'sk_live_')).toBe(false);
    expect(isWellFormedToken(token, 64, 'sk_live_')).toBe(false);
  });
});
