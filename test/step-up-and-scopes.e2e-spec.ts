import { Controller, Get } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { MikroOrmModule } from '@mikro-orm/nestjs';
import {
  Authenticated,
  CurrentSession,
  EctoSessionsModule,
  SessionsOptionsError,
  type Session,
  type SessionsService,
} from '../lib';
import { createTestApp, type Adapter, type TestApp } from './support/app';
import { ormOptions, sql } from './support/database';
import { call } from './support/http';
import { until } from './support/until';
import { onPglite } from './support/database';

@Controller()
class SensitiveController {
  @Authenticated()
  @Get('me')
  me(@CurrentSession('id') id: string) {
    return { id };
  }

  @Authenticated({ maxAge: '5m' })
  @Get('sudo')
  sudo(@CurrentSession('id') id: string) {
    return { id };
  }

  @Authenticated({ name: 'apiKeys', scopes: ['keys:read'] })
  @Get('keys')
  keys(@CurrentSession() key: Session) {
    return { scopes: key.scopes };
  }

  @Authenticated({ name: 'apiKeys', scopes: ['keys:read', 'keys:write'] })
  @Get('keys/write')
  write() {
    return { ok: true };
  }
}

/** Moves a session's login back by `seconds`. */
const loggedInAgo = (t: TestApp, table: string, id: string, seconds: number) =>
  sql(t.orm, `UPDATE ${table} SET inserted_at = inserted_at - make_interval(secs => ?) WHERE id = ?`, [seconds, id]);

describe.each<Adapter>(['express', 'fastify'])('step-up (maxAge) and scopes on %s', (adapter) => {
  let t: TestApp;
  let sessions: SessionsService;
  let keys: SessionsService;
  beforeAll(async () => {
    t = await createTestApp({
      adapter,
      kinds: [
        { ttl: '1d', rotation: { grace: '10s' } },
        { name: 'apiKeys', ttl: null, scopes: true },
      ],
      controllers: [SensitiveController],
      listen: true,
    });
    sessions = t.sessions();
    keys = t.sessions('apiKeys');
  });
  afterAll(() => t.close());

  const get = (path: string, token: string) => call(`${t.url}${path}`, { headers: { 'x-auth-token': token } });

  it('maxAge: a fresh login passes; an older one gets 401 insufficient_user_authentication, max_age quoted', async () => {
    const { session, token } = await sessions.create({ userId: 'u1' });
    expect((await get('/sudo', token)).status).toBe(200);
    await loggedInAgo(t, 'sessions', session.id, 301);
    const refused = await get('/sudo', token);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toBe(
      'Bearer error="insufficient_user_authentication", max_age="300"',
    );
    expect(refused.json).toMatchObject({ statusCode: 401, error: 'insufficient_user_authentication', maxAge: 300 });
    // The session stays valid for every other route, and in the database.
    expect((await get('/me', token)).status).toBe(200);
    expect((await sessions.authenticate(token))?.id).toBe(session.id);
  });

  it('maxAge counts from the login: rotation keeps it, so a rotated token is no fresher', async () => {
    const { session } = await sessions.create({ userId: 'u2' });
    await loggedInAgo(t, 'sessions', session.id, 600);
    const { token } = (await sessions.rotate(session))!;
    expect((await get('/sudo', token)).status).toBe(401);
    // Re-authentication is a new session (ASVS 3.2.1): that one passes.
    const fresh = await sessions.create({ userId: 'u2' });
    expect((await get('/sudo', fresh.token)).status).toBe(200);
  });

  it('scopes: every listed scope is needed, else 403 insufficient_scope naming them', async () => {
    const { token } = await keys.create({ userId: 'k1', scopes: ['keys:read'] });
    const read = await get('/keys', token);
    expect(read.status).toBe(200);
    expect(read.json).toEqual({ scopes: ['keys:read'] });
    const write = await get('/keys/write', token);
    expect(write.status).toBe(403);
    expect(write.headers.get('www-authenticate')).toBe(
      'Bearer error="insufficient_scope", scope="keys:read keys:write"',
    );
    expect(write.json).toMatchObject({
      statusCode: 403,
      error: 'insufficient_scope',
      scopes: ['keys:read', 'keys:write'],
    });
  });

  it("scopes: '*' grants every scope; none grants nothing", async () => {
    const all = await keys.create({ userId: 'k2', scopes: ['*'] });
    expect((await get('/keys/write', all.token)).status).toBe(200);
    const none = await keys.create({ userId: 'k2' });
    expect(none.session.scopes).toEqual([]);
    expect((await get('/keys', none.token)).status).toBe(403);
  });

  it('update(s, { scopes }) narrows and widens a key at once', async () => {
    const { session, token } = await keys.create({ userId: 'k3', scopes: ['keys:read', 'keys:write'] });
    expect((await get('/keys/write', token)).status).toBe(200);
    await keys.update(session, { scopes: ['keys:read'] });
    expect((await get('/keys/write', token)).status).toBe(403);
    await keys.update(session.id, { scopes: ['keys:read', 'keys:write'] });
    expect((await get('/keys/write', token)).status).toBe(200);
  });

  it('scopes are checked: not a list, spaces, quotes; and refused on a kind without scopes', async () => {
    await expect(keys.create({ scopes: 'keys:read' as never })).rejects.toThrow(/scopes must be a list/);
    await expect(keys.create({ scopes: ['a b'] })).rejects.toThrow(/scopes must be a list/);
    await expect(keys.create({ scopes: ['a"b'] })).rejects.toThrow(/scopes must be a list/);
    await expect(sessions.create({ scopes: ['x'] })).rejects.toThrow(/needs the kind's option scopes: true/);
    const { session } = await keys.create({ scopes: ['a', 'a', 'b'] });
    expect(session.scopes).toEqual(['a', 'b']);
    await expect(keys.list({ scopes: 'a' } as never)).rejects.toThrow(/JSON column/);
  });
});

@Controller('guarded')
class StepUpController {
  @Authenticated({ maxAge: '5m' })
  @Get('sudo')
  sudo() {
    return { ok: true };
  }

  @Authenticated({ scopes: ['admin'] })
  @Get('admin')
  admin() {
    return { ok: true };
  }
}

describe('a refused request never slides the session (its 401 or 403 sends no cookie to keep pace)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({
      kinds: [{ ttl: '2h', extendThreshold: '1m', scopes: true, cookie: { secure: false } }],
      controllers: [StepUpController],
      listen: true,
    });
  });
  afterAll(() => t.close());

  /** A session due for a slide (30 minutes left of 2 h), logged in 10 minutes ago, with these scopes. */
  async function due(scopes: string[]) {
    const { session, token } = await t.sessions().create({ userId: 'u', scopes });
    await sql(
      t.orm,
      `UPDATE sessions SET inserted_at = now() - interval '10 minutes', expires_at = now() + interval '30 minutes' WHERE id = ?`,
      [session.id],
    );
    return { id: session.id, cookie: `auth_token=${token}` };
  }
  const secondsLeft = async (id: string) =>
    (
      await sql<{ left: number }>(
        t.orm,
        `SELECT extract(epoch from expires_at - now())::int AS left FROM sessions WHERE id = ?`,
        [id],
      )
    )[0].left;
  const get = (path: string, cookie: string) => call(`${t.url}/guarded/${path}`, { headers: { cookie } });

  it('maxAge: a login too old gets its 401 and the expiry stays', async () => {
    const { id, cookie } = await due(['admin']);
    const refused = await get('sudo', cookie);
    expect(refused.status).toBe(401);
    expect(refused.setCookies).toEqual([]);
    expect(await secondsLeft(id)).toBeLessThanOrEqual(1800); // 30 minutes, not 2 h
  });

  it('scopes: a missing scope gets its 403 and the expiry stays; an admitted request slides and sends the cookie', async () => {
    const { id, cookie } = await due([]);
    const refused = await get('admin', cookie);
    expect(refused.status).toBe(403);
    expect(refused.setCookies).toEqual([]);
    expect(await secondsLeft(id)).toBeLessThanOrEqual(1800); // 30 minutes, not 2 h
    const admin = await due(['admin']);
    const admitted = await get('admin', admin.cookie);
    expect(admitted.status).toBe(200);
    expect(admitted.setCookies).toHaveLength(1);
    expect(await secondsLeft(admin.id)).toBeGreaterThan(7000);
  });
});

describe('route options checked at start-up', () => {
  it('a bad maxAge or scope fails when the decorator runs', () => {
    expect(() => Authenticated({ maxAge: 'soon' })).toThrow(/maxAge must be a duration/);
    expect(() => Authenticated({ maxAge: 0 })).toThrow(/maxAge must be a duration/);
    expect(() => Authenticated({ scopes: ['has space'] })).toThrow(/scopes must be a list/);
  });

  it('a route asking scopes of a kind without scopes: true stops the app', async () => {
    @Controller()
    class Wrong {
      @Authenticated({ scopes: ['x'] })
      @Get('x')
      x() {}
    }
    const moduleRef = await Test.createTestingModule({
      imports: [
        MikroOrmModule.forRoot({ ...ormOptions(), autoLoadEntities: true } as never),
        EctoSessionsModule.forRoot({}),
      ],
      controllers: [Wrong],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await expect(app.init()).rejects.toThrow(SessionsOptionsError);
    await expect(app.init()).rejects.toThrow(/scopes.*is off, but @Authenticated\(\{ scopes \}\) on Wrong.x/);
    await app.close();
  });
});

// Two instances with their caches: a scope change must reach the other one's cache at once.
(onPglite() ? describe.skip : describe)('scopes and the cache on two instances (real PostgreSQL)', () => {
  let a: TestApp;
  let b: TestApp;
  beforeAll(async () => {
    const kinds = [{}, { name: 'apiKeys', ttl: null, scopes: true, cache: true }];
    a = await createTestApp({ kinds, controllers: [SensitiveController], listen: true });
    b = await createTestApp({ kinds, controllers: [SensitiveController], listen: true, recreate: false });
    await until(
      () => a.sessions('apiKeys').cacheStatus.serving && b.sessions('apiKeys').cacheStatus.serving,
      'both caches serve',
    );
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  it('update(s, { scopes }) on A: B, which cached the key, refuses the dropped scope at once', async () => {
    const { session, token } = await a.sessions('apiKeys').create({ scopes: ['keys:read', 'keys:write'] });
    const onB = () => call(`${b.url}/keys/write`, { headers: { 'x-auth-token': token } });
    expect((await onB()).status).toBe(200);
    b.log.clear();
    expect((await onB()).status).toBe(200);
    expect(b.log.matching(/"api_keys"/)).toHaveLength(0); // served by B's cache
    await a.sessions('apiKeys').update(session, { scopes: ['keys:read'] });
    expect((await onB()).status).toBe(403);
  });
});
