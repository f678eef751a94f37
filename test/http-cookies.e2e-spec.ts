import { Controller, Get, Post, Res } from '@nestjs/common';
import { parseSetCookie } from 'cookie';
import { Authenticated, CurrentSession, InjectSessions, SessionsService } from '../lib';
import { type Adapter, createTestApp, type TestApp } from './support/app';
import { call } from './support/http';
import { createHttpTestApp } from './support/http-app';
import { sql } from './support/database';
import { MeController } from './support/me.controller';

type AnyResponse = any;

/** Adds a cookie the adapter's own way, as an app would beside ours. */
function nativeCookie(res: AnyResponse, value: string): void {
  if (typeof res.append === 'function') res.append('Set-Cookie', value);
  else res.header('set-cookie', value);
}

@Controller()
class AuthController {
  constructor(
    private readonly sessions: SessionsService,
    @InjectSessions('local') private readonly local: SessionsService,
  ) {}

  @Post('login')
  async login(@Res({ passthrough: true }) res: AnyResponse) {
    nativeCookie(res, 'theme=dark; Path=/');
    this.sessions.setCookie(res, (await this.sessions.create({ userId: 'alice' })).token);
    nativeCookie(res, 'lang=en; Path=/');
    return { ok: true };
  }

  @Post('logout')
  logout(@Res({ passthrough: true }) res: AnyResponse) {
    nativeCookie(res, 'theme=dark; Path=/');
    this.sessions.clearCookie(res);
    return { ok: true };
  }

  /** Through the bare Node response (Fastify's `reply.raw`), as a hook or plugin might. */
  @Post('raw-login')
  async rawLogin(@Res({ passthrough: true }) res: AnyResponse) {
    this.sessions.setCookie(res.raw ?? res, (await this.sessions.create({ userId: 'alice' })).token);
    return { ok: true };
  }

  @Post('local/login')
  async localLogin(@Res({ passthrough: true }) res: AnyResponse) {
    this.local.setCookie(res, (await this.local.create({ userId: 'bob' })).token);
    return { ok: true };
  }

  @Post('local/logout')
  localLogout(@Res({ passthrough: true }) res: AnyResponse) {
    this.local.clearCookie(res);
    return { ok: true };
  }

  /** Beside the cookie helper of Express (`res.cookie`) or of @fastify/cookie (`reply.setCookie`). */
  @Post('login-beside-plugin')
  async loginBesidePlugin(@Res({ passthrough: true }) res: AnyResponse) {
    if (typeof res.setCookie === 'function') res.setCookie('plugin', '1', { path: '/' });
    else res.cookie('plugin', '1', { path: '/' });
    this.sessions.setCookie(res, (await this.sessions.create({ userId: 'alice' })).token);
    return { ok: true };
  }

  @Authenticated()
  @Get('me')
  me(@CurrentSession('userId') userId: string) {
    return { userId };
  }

  @Authenticated({ name: 'local' })
  @Get('local/me')
  localMe(@CurrentSession('userId') userId: string) {
    return { userId };
  }
}

const KINDS = [
  { ttl: '2h', cookie: { name: '__Host-auth_token' } },
  {
    name: 'local',
    ttl: null,
    cookie: { secure: false, httpOnly: false, sameSite: 'strict' as const, domain: 'example.test', path: '/local' },
  },
];

/** A Set-Cookie header as a name, a value and its attributes (lower-cased names). */
function attributes(header: string): { name: string; value: string; attrs: Record<string, string | true> } {
  const [pair, ...rest] = header.split(/;\s*/);
  const eq = pair.indexOf('=');
  const attrs: Record<string, string | true> = {};
  for (const part of rest) {
    const i = part.indexOf('=');
    attrs[(i < 0 ? part : part.slice(0, i)).toLowerCase()] = i < 0 ? true : part.slice(i + 1);
  }
  return { name: pair.slice(0, eq), value: pair.slice(eq + 1), attrs };
}

describe.each<Adapter>(['express', 'fastify'])('setCookie and clearCookie on %s', (adapter) => {
  let t: TestApp;
  const post = (path: string) => call(`${t.url}${path}`, { method: 'POST' });

  beforeAll(async () => {
    t = await createTestApp({ adapter, listen: true, controllers: [AuthController], kinds: KINDS });
  });
  afterAll(() => t.close());

  it('sets the token cookie with the defaults and the __Host- prefix, keeping other Set-Cookie headers', async () => {
    const res = await post('/login');
    expect(res.status).toBe(201);
    expect(res.setCookies).toHaveLength(3);
    expect(res.setCookies[0]).toBe('theme=dark; Path=/');
    expect(res.setCookies[2]).toBe('lang=en; Path=/');
    const cookie = attributes(res.setCookies[1]);
    expect(cookie.name).toBe('__Host-auth_token');
    expect(cookie.value).toMatch(/^[A-Za-z0-9_-]{64}$/);
    expect(cookie.attrs).toEqual({ 'max-age': '7200', path: '/', httponly: true, secure: true, samesite: 'Lax' });
    expect(parseSetCookie(res.setCookies[1])).toMatchObject({
      name: '__Host-auth_token',
      maxAge: 7200,
      sameSite: 'lax',
    });
  });

  it('the cookie it sets authenticates the next request', async () => {
    const { name, value } = attributes((await post('/login')).setCookies[1]);
    const me = await call(`${t.url}/me`, { headers: { cookie: `theme=dark; ${name}=${value}` } });
    expect(me.json).toEqual({ userId: 'alice' });
    // The plain name is not this kind's cookie any more.
    expect((await call(`${t.url}/me`, { headers: { cookie: `auth_token=${value}` } })).status).toBe(401);
  });

  it('clears the cookie with the same attributes, Max-Age=0 and an Expires in the past', async () => {
    const res = await post('/logout');
    expect(res.setCookies).toHaveLength(2);
    expect(res.setCookies[0]).toBe('theme=dark; Path=/');
    const cookie = attributes(res.setCookies[1]);
    expect(cookie).toEqual({
      name: '__Host-auth_token',
      value: '',
      attrs: {
        'max-age': '0',
        expires: 'Thu, 01 Jan 1970 00:00:00 GMT',
        path: '/',
        httponly: true,
        secure: true,
        samesite: 'Lax',
      },
    });
  });

  it('sets through a bare Node response too (Fastify’s reply.raw)', async () => {
    const res = await post('/raw-login');
    expect(res.setCookies).toHaveLength(1);
    expect(attributes(res.setCookies[0]).name).toBe('__Host-auth_token');
  });

  it('honours the cookie options: no Secure for local http, domain, path, SameSite, 400 days when ttl is null', async () => {
    const set = attributes((await post('/local/login')).setCookies[0]);
    expect(set.name).toBe('auth_token');
    expect(set.attrs).toEqual({
      'max-age': String(400 * 86_400),
      domain: 'example.test',
      path: '/local',
      samesite: 'Strict',
    });
    const me = await call(`${t.url}/local/me`, { headers: { cookie: `auth_token=${set.value}` } });
    expect(me.json).toEqual({ userId: 'bob' });
    const cleared = attributes((await post('/local/logout')).setCookies[0]);
    expect(cleared.value).toBe('');
    expect(cleared.attrs).toMatchObject({ 'max-age': '0', domain: 'example.test', path: '/local', samesite: 'Strict' });
    expect(cleared.attrs).not.toHaveProperty('secure');
  });
});

describe.each<Adapter>(['express', 'fastify'])('with cookie-parser / @fastify/cookie installed on %s', (adapter) => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createHttpTestApp({
      adapter,
      controllers: [AuthController],
      kinds: KINDS,
      configure: async (app) => {
        if (adapter === 'express') {
          // eslint-disable-next-line @typescript-eslint/no-require-imports
          app.use(require('cookie-parser')('signing-secret'));
        } else {
          // eslint-disable-next-line @typescript-eslint/no-require-imports
          await (app as any).register(require('@fastify/cookie'), { secret: 'signing-secret' });
        }
      },
    });
  });
  afterAll(() => t.close());

  it('still reads the token cookie and still sets it alongside', async () => {
    const login = await call(`${t.url}/login`, { method: 'POST' });
    expect(login.setCookies.map((c) => attributes(c).name)).toEqual(['theme', '__Host-auth_token', 'lang']);
    const { value } = attributes(login.setCookies[1]);
    const me = await call(`${t.url}/me`, { headers: { cookie: `a=%ZZ; __Host-auth_token=${value}; b="q"` } });
    expect(me.json).toEqual({ userId: 'alice' });
    expect((await call(`${t.url}/me`, { headers: { cookie: `__Host-auth_token=s%3A${value}.sig` } })).status).toBe(401);
  });

  it('keeps the cookies the framework’s own helper sets', async () => {
    const login = await call(`${t.url}/login-beside-plugin`, { method: 'POST' });
    expect(login.setCookies.map((c) => attributes(c).name).sort()).toEqual(['__Host-auth_token', 'plugin']);
  });
});

describe.each<Adapter>(['express', 'fastify'])('a sliding extension refreshes the cookie on %s', (adapter) => {
  let t: TestApp;
  const kinds = [{ ttl: '2h', extendOnUse: true, extendThreshold: '1m', cookie: { secure: false } }];

  beforeAll(async () => {
    t = await createTestApp({ adapter, listen: true, controllers: [MeController], kinds });
  });
  afterAll(() => t.close());

  /** A session whose expiry is 30 minutes away: the next use slides it to 2 hours. */
  const dueSession = async () => {
    const { session, token } = await t.sessions().create({ userId: 'alice' });
    await sql(t.orm, `UPDATE "sessions" SET "expires_at" = now() + interval '30 minutes' WHERE "id" = ?`, [session.id]);
    return token;
  };

  it('sends the cookie again with a Max-Age reaching the new expiry, once', async () => {
    const token = await dueSession();
    const first = await call(`${t.url}/me`, { headers: { cookie: `theme=dark; auth_token=${token}` } });
    expect(first.status).toBe(200);
    expect(first.setCookies).toHaveLength(1);
    const cookie = attributes(first.setCookies[0]);
    expect(cookie.name).toBe('auth_token');
    expect(cookie.value).toBe(token);
    expect(Number(cookie.attrs['max-age'])).toBeGreaterThan(7000);
    expect(Number(cookie.attrs['max-age'])).toBeLessThanOrEqual(7200);
    expect(cookie.attrs).toMatchObject({ path: '/', httponly: true, samesite: 'Lax' });
    // Not due any more: nothing to refresh.
    const second = await call(`${t.url}/me`, { headers: { cookie: `auth_token=${token}` } });
    expect(second.status).toBe(200);
    expect(second.setCookies).toEqual([]);
  });

  it('leaves cookies alone when the token came from a header', async () => {
    const token = await dueSession();
    const res = await call(`${t.url}/me`, { headers: { 'x-auth-token': token } });
    expect(res.status).toBe(200);
    expect(res.setCookies).toEqual([]);
  });
});
