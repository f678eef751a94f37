import type { TokenSource } from '../options/options.interface';
import { extractToken } from './token-extraction';

const DEFAULT: TokenSource[] = [
  { type: 'header', name: 'x-auth-token' },
  { type: 'bearer' },
  { type: 'cookie', name: 'auth_token' },
];
const from = (headers: Record<string, string | string[] | undefined>, sources: TokenSource[] = DEFAULT) =>
  extractToken({ headers }, sources);

describe('extractToken', () => {
  describe('order of the sources', () => {
    it('takes the first source that has a token: header, then bearer, then cookie', () => {
      const all = { 'x-auth-token': 'h', authorization: 'Bearer b', cookie: 'auth_token=c' };
      expect(from(all)).toBe('h');
      expect(from({ authorization: all.authorization, cookie: all.cookie })).toBe('b');
      expect(from({ cookie: all.cookie })).toBe('c');
    });

    it('follows the configured order and reads only the configured sources', () => {
      const all = { 'x-auth-token': 'h', 'x-api-key': 'k', authorization: 'Bearer b', cookie: 'auth_token=c; sid=s' };
      expect(from(all, [{ type: 'cookie', name: 'sid' }, { type: 'bearer' }])).toBe('s');
      expect(from(all, [{ type: 'header', name: 'x-api-key' }])).toBe('k');
      expect(from({ 'x-auth-token': 'h' }, [{ type: 'bearer' }])).toBeUndefined();
    });

    it('is undefined with no token, no headers at all, or no sources', () => {
      expect(from({})).toBeUndefined();
      expect(extractToken({} as never, DEFAULT)).toBeUndefined();
      expect(extractToken(undefined as never, DEFAULT)).toBeUndefined();
      expect(from({ 'x-auth-token': 'h' }, [])).toBeUndefined();
    });
  });

  describe('header', () => {
    it('skips an empty header for the next source', () => {
      expect(from({ 'x-auth-token': '', cookie: 'auth_token=c' })).toBe('c');
    });

    it('joins a repeated header, so that two tokens make one malformed token rather than a choice', () => {
      expect(from({ 'x-auth-token': ['one', 'two'] })).toBe('one, two');
    });

    it('returns huge and non-ASCII values as they are: refusing them is the service’s job, before any hashing', () => {
      expect(from({ 'x-auth-token': 'A'.repeat(8192) })).toHaveLength(8192);
      expect(from({ 'x-auth-token': 'Ã©'.repeat(32) })).toBe('Ã©'.repeat(32));
    });
  });

  describe('Authorization: Bearer', () => {
    it('reads the token, the scheme in any case, with spaces or tabs around', () => {
      expect(from({ authorization: 'Bearer abc' })).toBe('abc');
      expect(from({ authorization: 'bearer abc' })).toBe('abc');
      expect(from({ authorization: 'BEARER \t abc  ' })).toBe('abc');
    });

    it('gives an empty token for "Bearer" with nothing after it: announced, so refused, not anonymous', () => {
      expect(from({ authorization: 'Bearer' })).toBe('');
      expect(from({ authorization: 'Bearer    ' })).toBe('');
      expect(from({ authorization: 'Bearer', cookie: 'auth_token=c' })).toBe('');
    });

    it('ignores other schemes, so Basic credentials fall through to the cookie', () => {
      expect(from({ authorization: 'Basic YWxpY2U6c2VjcmV0' })).toBeUndefined();
      expect(from({ authorization: 'Basic YWxpY2U6c2VjcmV0', cookie: 'auth_token=c' })).toBe('c');
      expect(from({ authorization: 'Bearerabc' })).toBeUndefined();
      expect(from({ authorization: 'Token abc' })).toBeUndefined();
    });

    it('keeps what follows whole, so a token with spaces is refused later rather than cut', () => {
      expect(from({ authorization: 'Bearer abc def' })).toBe('abc def');
    });
  });

  describe('cookie', () => {
    it('finds the cookie among many', () => {
      const many = Array.from({ length: 300 }, (_, i) => `c${i}=v${i}`).join('; ');
      expect(from({ cookie: `${many}; auth_token=tok; more=1` })).toBe('tok');
    });

    it('takes the first of two cookies of the same name (the most specific path comes first)', () => {
      expect(from({ cookie: 'auth_token=first; auth_token=second' })).toBe('first');
    });

    it('drops the double quotes RFC 6265 allows around a value', () => {
      expect(from({ cookie: 'auth_token="tok"' })).toBe('tok');
      expect(from({ cookie: 'auth_token="' })).toBe('"');
    });

    it('skips an empty cookie for the next source', () => {
      expect(from({ cookie: 'auth_token=' })).toBeUndefined();
      expect(from({ cookie: 'auth_token=; x=1' }, [...DEFAULT, { type: 'cookie', name: 'x' }])).toBe('1');
    });

    it('decodes percent-encoding, and keeps a value with bad percent-encoding as it is, without throwing', () => {
      expect(from({ cookie: 'auth_token=a%2Db' })).toBe('a-b');
      expect(from({ cookie: 'auth_token=%E0%A4%A' })).toBe('%E0%A4%A');
      expect(from({ cookie: 'other=%ZZ; auth_token=tok' })).toBe('tok');
    });

    it('does not mistake prototype properties for cookies', () => {
      expect(from({ cookie: 'a=1' }, [{ type: 'cookie', name: 'constructor' }])).toBeUndefined();
      expect(from({ cookie: 'a=1' }, [{ type: 'cookie', name: '__proto__' }])).toBeUndefined();
      expect(from({ cookie: 'a=1' }, [{ type: 'cookie', name: 'toString' }])).toBeUndefined();
    });

    it('ignores a cookie header without pairs', () => {
      expect(from({ cookie: 'garbage' })).toBeUndefined();
      expect(from({ cookie: ';;;' })).toBeUndefined();
    });

    it('reads a cookie header that arrived as a list (one cookie a line) without gluing cookies together', () => {
      expect(from({ cookie: ['theme=dark', 'auth_token=tok'] })).toBe('tok');
      expect(from({ cookie: ['auth_token=tok', 'theme=dark'] })).toBe('tok');
    });
  });
});
