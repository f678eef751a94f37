import { Logger } from '@nestjs/common';
import { parseDuration } from './duration';
import { EctoSessionsError, SessionsOptionsError } from '../errors';
import { resolveSessionsOptions } from './resolve-options';

describe('resolveSessionsOptions', () => {
  it('applies every default', () => {
    const o = resolveSessionsOptions();
    expect(o).toMatchObject({
      name: 'default',
      ttl: 7 * 86400,
      extendOnUse: true,
      extendThreshold: 86400,
      absoluteTtl: null,
      tokenLength: 64,
      hashAlgorithm: 'sha256',
      secrets: [],
      tableName: 'sessions',
      schema: undefined,
      columns: { userId: { type: 'string', index: true, nullable: true, fieldName: 'user_id', length: 255 } },
      tokenFrom: [{ type: 'header', name: 'x-auth-token' }, { type: 'bearer' }, { type: 'cookie', name: 'auth_token' }],
      cookie: { name: 'auth_token', httpOnly: true, secure: true, sameSite: 'lax', path: '/', maxAge: 7 * 86400 },
      pruneInterval: null,
      entityName: 'Session',
    });
  });

  it("names a kind's table and entity after it", () => {
    expect(resolveSessionsOptions({ name: 'apiKeys', ttl: null })).toMatchObject({
      tableName: 'api_keys',
      entityName: 'ApiKeysSession',
      ttl: null,
      cookie: { maxAge: 400 * 86400 },
    });
  });

  it('reads durations as seconds or strings', () => {
    expect(resolveSessionsOptions({ ttl: '12h', extendThreshold: 0, absoluteTtl: '30d' })).toMatchObject({
      ttl: 43200,
      extendThreshold: 0,
      absoluteTtl: 30 * 86400,
    });
    expect(resolveSessionsOptions({ extendThreshold: null }).extendThreshold).toBeNull();
    expect(resolveSessionsOptions({ ttl: '7h' }).extendThreshold).toBe(3600);
    expect(parseDuration('90')).toBe(90);
    expect(parseDuration('1.5h')).toBe(5400);
    expect(parseDuration(-1)).toBeUndefined();
    expect(parseDuration('soon')).toBeUndefined();
  });

  it('turns the cache on with defaults', () => {
    expect(resolveSessionsOptions({ cache: true }).cache).toEqual({ ttl: 30, max: 10_000 });
    expect(resolveSessionsOptions({ cache: { ttl: '5s', max: 10 } }).cache).toEqual({ ttl: 5, max: 10 });
    expect(resolveSessionsOptions().cache).toBeNull();
  });

  it('turns a single secret into a rotation list of one', () => {
    expect(resolveSessionsOptions({ secret: 's' }).secrets).toEqual(['s']);
    expect(resolveSessionsOptions({ secret: ['new', 'old'] }).secrets).toEqual(['new', 'old']);
  });

  it('takes a cookie path under /, a domain, and a sub-second ttl when the cookie has its own maxAge', () => {
    expect(resolveSessionsOptions({ cookie: { path: '/api', domain: 'example.com' } }).cookie).toMatchObject({
      path: '/api',
      domain: 'example.com',
    });
    expect(resolveSessionsOptions({ ttl: '500ms', cookie: { maxAge: 60 } })).toMatchObject({
      ttl: 0.5,
      cookie: { maxAge: 60 },
    });
    expect(resolveSessionsOptions({ ttl: 1.5 }).cookie.maxAge).toBe(1);
  });

  it('derives the cookie source from the cookie name', () => {
    const o = resolveSessionsOptions({ cookie: { name: '__Host-sid' } });
    expect(o.tokenFrom[2]).toEqual({ type: 'cookie', name: '__Host-sid' });
  });

  it.each([
    [{ ttl: 'forever' }, 'ttl', /duration/],
    [{ ttl: -5 }, 'ttl', /seconds >= 0/],
    [{ ttl: 0 }, 'ttl', /more than 0/],
    [{ extendOnUse: 'yes' }, 'extendOnUse', /true or false/],
    [{ extendThreshold: {} }, 'extendThreshold', /duration/],
    [{ ttl: '1h', extendThreshold: '1d' }, 'extendThreshold', /less than ttl/],
    [{ absoluteTtl: 0 }, 'absoluteTtl', /more than 0/],
    [{ tokenLength: 21 }, 'tokenLength', /at least 22/],
    [{ tokenLength: 32.5 }, 'tokenLength', /whole number/],
    [{ hashAlgorithm: 'rot13' }, 'hashAlgorithm', /crypto.getHashes/],
    [{ hashAlgorithm: null, secret: 's' }, 'secret', /needs a hashAlgorithm/],
    [{ secret: [] }, 'secret', /empty list/],
    [{ secret: [''] }, 'secret', /non-empty string/],
    [{ tableName: '' }, 'tableName', /1 to 63/],
    [{ columns: { id: {} } }, 'columns.id', /clashes/],
    [{ columns: { tenant: { type: 'money' } } }, 'columns.tenant.type', /one of/],
    [{ columns: { tenant: { indexed: true } } }, 'columns.tenant.indexed', /not a column option/],
    [{ tokenFrom: [] }, 'tokenFrom', /non-empty list/],
    [{ tokenFrom: [{ type: 'query', name: 't' }] }, 'tokenFrom[0]', /must be/],
    [{ cookie: { sameSite: 'none', secure: false } }, 'cookie.sameSite', /secure/],
    [{ cookie: { name: '__Host-sid', domain: 'example.com' } }, 'cookie.name', /__Host-/],
    [{ cookie: { name: 'bad name' } }, 'cookie.name', /valid cookie name/],
    [{ cache: { ttl: 0 } }, 'cache.ttl', /above 0/],
    [{ cache: { max: -1 } }, 'cache.max', /above 0/],
    [{ cache: { size: 5 } }, 'cache.size', /not a cache option/],
    [{ cache: 'yes' }, 'cache', /true, false/],
    [{ tokenPrefix: 'sk live' }, 'tokenPrefix', /letters/],
    [{ pruneBatchSize: 0 }, 'pruneBatchSize', /whole number/],
    [{ onCreated: 'log' }, 'onCreated', /function/],
    [{ pruneInterval: '30d' }, 'pruneInterval', /at most 2147483 seconds/],
    [{ statementTimeout: '30d' }, 'statementTimeout', /at most/],
    [{ tableName: 'ses?sions' }, 'tableName', /table name/],
    [{ columns: { owner: { fieldName: 'data' } } }, 'columns.owner.fieldName', /already a column/],
    [{ columns: { a: { fieldName: 'x' }, b: { fieldName: 'x' } } }, 'columns.b.fieldName', /already a column/],
    [{ cookie: { path: '/;evil' } }, 'cookie', /refuses/],
    [{ cookie: { maxage: 5 } }, 'cookie.maxage', /not a cookie option/],
    // Cookies the browser would scope elsewhere or delete at once: refused, not sent.
    [{ cookie: { path: '' } }, 'cookie.path', /must start with "\/"/],
    [{ cookie: { path: 123 } }, 'cookie.path', /must start with "\/"/],
    [{ cookie: { path: 'api' } }, 'cookie.path', /must start with "\/"/],
    [{ cookie: { domain: '' } }, 'cookie.domain', /non-empty string/],
    [{ cookie: { domain: 5 } }, 'cookie.domain', /non-empty string/],
    [{ cookie: { maxAge: 0 } }, 'cookie.maxAge', /above 0.*deletes/],
    [{ cookie: { maxAge: -1 } }, 'cookie.maxAge', /above 0/],
    [{ ttl: '500ms' }, 'ttl', /Max-Age.*0/],
    [{ ttl: 0.9 }, 'ttl', /cookie\.maxAge/],
    [{ pruneInterval: 0 }, 'pruneInterval', /more than 0/],
    [{ name: 'bad name' }, 'name', /letters/],
    [{ ttll: 5 }, 'ttll', /not an option/],
  ])('%j fails naming %s', (options, option, problem) => {
    let error: unknown;
    try {
      resolveSessionsOptions(options as never);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SessionsOptionsError);
    expect(error).toBeInstanceOf(EctoSessionsError);
    expect((error as Error).message).toContain(`option "${option}"`);
    expect((error as Error).message).toMatch(problem);
  });

  describe('start-up warnings', () => {
    let warn: jest.SpyInstance;
    beforeEach(() => {
      warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    });
    afterEach(() => warn.mockRestore());
    const warnings = () => warn.mock.calls.map(([message]) => String(message));

    it('warns that hashAlgorithm: null stores tokens in plaintext', () => {
      resolveSessionsOptions({ hashAlgorithm: null });
      expect(warnings()).toEqual([expect.stringMatching(/plaintext \(hashAlgorithm: null\)/)]);
    });

    it.each(['md5', 'sha1', 'MD5', 'SHA1', 'RSA-MD5', 'RSA-SHA1', 'sha1WithRSAEncryption', 'ssl3-md5', 'md5-sha1'])(
      'warns that hashAlgorithm %j is a weak digest, naming the option',
      (hashAlgorithm) => {
        expect(resolveSessionsOptions({ name: 'keys', hashAlgorithm }).hashAlgorithm).toBe(hashAlgorithm);
        expect(warnings()).toEqual([expect.stringContaining(`Kind "keys" uses hashAlgorithm "${hashAlgorithm}"`)]);
        expect(warnings()[0]).toMatch(/weak/);
      },
    );

    it.each([undefined, 'sha256', 'SHA512', 'sha3-256', 'blake2b512', 'RSA-SHA256', 'sha512-256'])(
      'does not warn about hashAlgorithm %j',
      (hashAlgorithm) => {
        resolveSessionsOptions({ hashAlgorithm });
        expect(warnings()).toEqual([]);
      },
    );
  });

  it('refuses a non-object', () => {
    expect(() => resolveSessionsOptions('7d' as never)).toThrow(/must be an object/);
  });
});

describe('an unknown key inside an option object is named, with the keys known there', () => {
  it.each([
    [{ cache: { tll: '1m' } }, 'option "cache.tll" is not a cache option; known: ttl, max'],
    [
      { columns: { userId: { typ: 'string' } } },
      'option "columns.userId.typ" is not a column option; known: type, index, nullable, fieldName, length',
    ],
    [
      { cookie: { secur: true } },
      'option "cookie.secur" is not a cookie option; known: name, httpOnly, secure, sameSite, path, domain, maxAge',
    ],
    [{ rotation: { grace: 1, evry: 2 } }, 'option "rotation.evry" is not a rotation option; known: grace, every'],
    [
      { maxPerUser: { max: 1, limit: 2 } },
      'option "maxPerUser.limit" is not a maxPerUser option; known: max, onLimit, column',
    ],
  ])('%j', (options, message) => {
    expect(() => resolveSessionsOptions(options as never)).toThrow(message);
  });
});
