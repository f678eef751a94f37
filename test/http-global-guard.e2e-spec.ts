import { Controller, Get } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { Authenticated, AuthenticatedGuard, CurrentSession, generateToken, Public } from '../lib';
import { type Adapter, createTestApp, type TestApp } from './support/app';
import { call } from './support/http';
import { sql } from './support/database';

@Controller()
class AppController {
  @Get('private')
  private(@CurrentSession('userId') userId: string) {
    return { userId };
  }

  @Public()
  @Get('health')
  health(@CurrentSession() session?: unknown) {
    return { ok: true, session: session ?? null };
  }

  @Authenticated({ name: 'apiKeys' })
  @Get('keys')
  keys(@CurrentSession('userId') userId: string) {
    return { userId };
  }

  @Authenticated({ maxAge: 60 })
  @Get('sudo')
  sudo(@CurrentSession('userId') userId: string) {
    return { userId };
  }

  @Authenticated({ optional: true })
  @Get('optional')
  optional(@CurrentSession('userId') userId?: string) {
    return { userId: userId ?? null };
  }
}

/** A public controller with one guarded route. */
@Public()
@Controller('open')
class OpenController {
  @Get()
  index() {
    return { ok: true };
  }

  @Authenticated()
  @Get('me')
  me(@CurrentSession('userId') userId: string) {
    return { userId };
  }
}

/** A guarded controller with one public route. */
@Authenticated()
@Controller('closed')
class ClosedController {
  @Get()
  index(@CurrentSession('userId') userId: string) {
    return { userId };
  }

  @Public()
  @Get('health')
  health() {
    return { ok: true };
  }
}

describe.each<Adapter>(['express', 'fastify'])('AuthenticatedGuard as APP_GUARD on %s', (adapter) => {
  let t: TestApp;
  let token: string;
  let key: string;
  const get = (path: string, headers: Record<string, string> = {}) => call(`${t.url}${path}`, { headers });

  beforeAll(async () => {
    t = await createTestApp({
      adapter,
      listen: true,
      controllers: [AppController, OpenController, ClosedController],
      providers: [{ provide: APP_GUARD, useClass: AuthenticatedGuard }],
      kinds: [{}, { name: 'apiKeys', ttl: null }],
    });
    token = (await t.sessions().create({ userId: 'alice' })).token;
    key = (await t.sessions('apiKeys').create({ userId: 'robot' })).token;
  });
  afterAll(() => t.close());
  beforeEach(() => t.log.clear());

  it('protects a route without any decorator', async () => {
    const refused = await get('/private');
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toBe('Bearer');
    expect((await get('/private', { 'x-auth-token': token })).json).toEqual({ userId: 'alice' });
  });

  it('lets a @Public() route through, token or not, without a session or a query', async () => {
    expect((await get('/health')).json).toEqual({ ok: true, session: null });
    expect((await get('/health', { 'x-auth-token': 'garbage' })).json).toEqual({ ok: true, session: null });
    expect((await get('/health', { 'x-auth-token': token })).json).toEqual({ ok: true, session: null });
    expect(t.log.statements).toHaveLength(0);
  });

  it('honours @Authenticated() options, with one lookup although two guards run', async () => {
    expect((await get('/keys', { authorization: `Bearer ${key}` })).json).toEqual({ userId: 'robot' });
    expect(t.log.statements).toHaveLength(1);
    expect((await get('/keys', { authorization: `Bearer ${token}` })).status).toBe(401);
    expect((await get('/optional')).json).toEqual({ userId: null });
    expect((await get('/optional', { 'x-auth-token': generateToken() })).status).toBe(401);
  });

  it('a route asking a recent login (maxAge) refuses an older one, though the global guard found it valid', async () => {
    const { session, token: old } = await t.sessions().create({ userId: 'bob' });
    expect((await get('/sudo', { 'x-auth-token': old })).json).toEqual({ userId: 'bob' });
    await sql(t.orm, `UPDATE sessions SET inserted_at = inserted_at - interval '61 seconds' WHERE id = ?`, [
      session.id,
    ]);
    const refused = await get('/sudo', { 'x-auth-token': old });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toMatch(/insufficient_user_authentication/);
    expect((await get('/private', { 'x-auth-token': old })).json).toEqual({ userId: 'bob' });
  });

  it('lets a handler @Authenticated() guard one route of a @Public() controller', async () => {
    expect((await get('/open')).json).toEqual({ ok: true });
    expect((await get('/open/me')).status).toBe(401);
    expect((await get('/open/me', { 'x-auth-token': token })).json).toEqual({ userId: 'alice' });
  });

  it('lets a handler @Public() open one route of an @Authenticated() controller', async () => {
    expect((await get('/closed')).status).toBe(401);
    expect((await get('/closed', { 'x-auth-token': token })).json).toEqual({ userId: 'alice' });
    expect((await get('/closed/health')).json).toEqual({ ok: true });
  });
});

describe('@Public() without a global guard', () => {
  let t: TestApp;
  afterAll(() => t?.close());

  it('opens a route of an @Authenticated() controller on its own', async () => {
    t = await createTestApp({ listen: true, controllers: [ClosedController] });
    expect((await call(`${t.url}/closed/health`)).json).toEqual({ ok: true });
    expect((await call(`${t.url}/closed`)).status).toBe(401);
  });
});
