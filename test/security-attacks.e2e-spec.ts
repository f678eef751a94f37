import { Controller, Get } from '@nestjs/common';
import { IsolationLevel } from '@mikro-orm/core';
import { Authenticated, CurrentSession, SessionLimitError, type Session, type SessionsService } from '../lib';
import { createTestApp, type TestApp } from './support/app';
import { onPglite, poolRunning, sql } from './support/database';
import { call } from './support/http';
import { until } from './support/until';

/**
 * Attacks on the #14 security features (rotation, step-up, scopes, last use,
 * the per-user cap): each test here failed before its fix.
 */

@Controller()
class MeController {
  @Authenticated()
  @Get('me')
  me(@CurrentSession('id') id: string) {
    return { id };
  }
}

@Controller()
class AttackController {
  // A sub-second step-up window: a login made a moment ago is within it.
  @Authenticated({ maxAge: 0.9 })
  @Get('sudo-fast')
  sudoFast(@CurrentSession('id') id: string) {
    return { id };
  }

  // An app that edits the list it was handed (to show it, say): it must not edit the cache.
  @Authenticated({ name: 'apiKeys' })
  @Get('keys/shown')
  shown(@CurrentSession() key: Session) {
    key.scopes!.push('admin');
    return { scopes: key.scopes };
  }

  @Authenticated({ name: 'apiKeys', scopes: ['admin'] })
  @Get('keys/admin')
  admin() {
    return { admin: true };
  }
}

const cookieOf = (setCookies: string[]) =>
  setCookies.map((c) => /^auth_token=([^;]*)/.exec(c)?.[1]).find((v) => v !== undefined);

describe('rotation: a slid cookie never carries the replaced token', () => {
  let t: TestApp;
  let s: SessionsService;
  beforeAll(async () => {
    t = await createTestApp({
      kinds: [{ ttl: '1h', extendThreshold: '10s', rotation: { grace: '5m' } }],
      controllers: [MeController],
      listen: true,
    });
    s = t.sessions();
  });
  afterAll(() => t.close());

  // A request in flight with the old cookie (another tab, a queued request) slides the
  // expiry: its Set-Cookie must not put the replaced token back in the browser, which
  // would then hold a token that dies at the end of the grace (a sign-out).
  it('a request with the replaced cookie inside its grace slides the expiry but sends no cookie with that token', async () => {
    const { session, token: old } = await s.create({ userId: 'slide-1' });
    const rotated = await s.rotate(session);
    expect(rotated).not.toBeNull();
    // The expiry is due to slide (as after a while of use).
    await sql(t.orm, `UPDATE sessions SET expires_at = now() + interval '30 minutes' WHERE id = ?`, [session.id]);
    const response = await call(`${t.url}/me`, { headers: { cookie: `auth_token=${old}` } });
    expect(response.status).toBe(200);
    expect(cookieOf(response.setCookies)).not.toBe(old);
    // The new token (the browser's, from the rotation) still works after the grace.
    await sql(t.orm, `UPDATE sessions SET rotated_at = rotated_at - interval '6 minutes' WHERE id = ?`, [session.id]);
    expect(await s.authenticate(old)).toBeNull();
    expect((await s.authenticate(rotated!.token))?.id).toBe(session.id);
  });
});

// Notices need a real server.
(onPglite() ? describe.skip : describe)(
  'rotation: a reissue that lost its race revokes nothing (real PostgreSQL)',
  () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createTestApp({
        kinds: [{ ttl: '1h', cache: true, rotation: { grace: '30s', every: '10m' } }],
        controllers: [MeController],
        listen: true,
      });
      await until(() => t.sessions().cacheStatus.serving, 'the cache serves');
    });
    afterAll(() => t.close());

    // Each of 19 losing requests (and each request of an instance whose clock runs ahead
    // of the database's, while only it finds the token due) announced a revocation of a
    // session it did not change: a notice to every instance, which dropped the session
    // from its cache, and a wait for their acknowledgements.
    it('a reissue that finds the token already rotated sends no notice and leaves the caches alone', async () => {
      const s = t.sessions();
      const { session, token } = await s.create({ userId: 'race-1' });
      await sql(t.orm, `UPDATE sessions SET inserted_at = inserted_at - interval '11 minutes' WHERE id = ?`, [
        session.id,
      ]);
      const aged = (await s.authenticate(token))!; // as the guard read it: due
      const won = await s.requests.reissue(aged, token); // the request that won the race
      expect(won).not.toBeNull();
      expect((await s.authenticate(won!.token))?.id).toBe(session.id);
      expect((await s.authenticate(won!.token))?.id).toBe(session.id); // cached under the new token
      const cached = s.cacheStatus.size;
      expect(cached).toBeGreaterThan(0);
      t.log.clear();
      expect(await s.requests.reissue(aged, token)).toBeNull(); // a request that lost it
      expect(t.log.matching(/pg_notify/)).toHaveLength(0);
      expect(s.cacheStatus.size).toBe(cached);
    });
  },
);

describe('scopes that are not a list, and a maxAge under a second', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({
      kinds: [{ ttl: '1h' }, { name: 'apiKeys', ttl: null, scopes: true }],
      controllers: [AttackController],
      listen: true,
    });
  });
  afterAll(() => t.close());

  // Written by plain SQL or another app: a JSON string was matched as a substring
  // ("x*".includes('*') grants everything).
  it('a JSON string in the scopes column grants nothing', async () => {
    const { session, token } = await t.sessions('apiKeys').create({ userId: 'k3', scopes: ['keys:read'] });
    await sql(t.orm, `UPDATE api_keys SET scopes = '"keys:read*"'::jsonb WHERE id = ?`, [session.id]);
    const response = await call(`${t.url}/keys/admin`, { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(403);
  });

  // 0.9 s was accepted as "a duration above 0", then floored to 0: every login, however
  // fresh, was refused, with max_age="0".
  it('lets a login made a moment ago through, and never announces max_age="0"', async () => {
    const { token } = await t.sessions().create({ userId: 'fast' });
    const response = await call(`${t.url}/sudo-fast`, { headers: { authorization: `Bearer ${token}` } });
    expect(response.headers.get('www-authenticate') ?? '').not.toMatch(/max_age="0"/);
    expect(response.status).toBe(200);
  });
});

// The cache needs notices: a real server.
(onPglite() ? describe.skip : describe)('scopes and the cache: a hit is a copy (real PostgreSQL)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({
      kinds: [{ ttl: '1h' }, { name: 'apiKeys', ttl: null, scopes: true, cache: true }],
      controllers: [AttackController],
      listen: true,
    });
    await until(() => t.sessions('apiKeys').cacheStatus.serving, 'the cache serves');
  });
  afterAll(() => t.close());

  // The cache copies dates and parses `data` afresh for each hit "so no caller can
  // change what the next one gets"; `scopes` was handed out by reference.
  it('authenticate(): changing the scopes of one hit does not change the next', async () => {
    const keys = t.sessions('apiKeys');
    const { token } = await keys.create({ userId: 'k1', scopes: ['keys:read'] });
    await keys.authenticate(token); // cached
    const first = await keys.authenticate(token);
    expect(t.sessions('apiKeys').cacheStatus.size).toBeGreaterThan(0);
    first!.scopes!.push('admin');
    const second = await keys.authenticate(token);
    expect(second!.scopes).toEqual(['keys:read']);
  });

  it('a handler that edits key.scopes does not grant the key a scope on its next request', async () => {
    const { token } = await t.sessions('apiKeys').create({ userId: 'k2', scopes: ['keys:read'] });
    const headers = { authorization: `Bearer ${token}` };
    expect((await call(`${t.url}/keys/shown`, { headers })).status).toBe(200); // cached on its way
    expect((await call(`${t.url}/keys/shown`, { headers })).status).toBe(200); // served by the cache, edited
    expect((await call(`${t.url}/keys/admin`, { headers })).status).toBe(403);
  });
});

// Concurrent transactions need a real server.
(onPglite() ? describe.skip : describe)('per-user cap and REPEATABLE READ (real PostgreSQL)', () => {
  let t: TestApp;
  let capped: SessionsService;
  beforeAll(async () => {
    t = await createTestApp({
      kinds: [{ ttl: '1h', maxPerUser: { max: 3, onLimit: 'refuse' } }],
    });
    capped = t.sessions();
  });
  afterAll(() => t.close());

  const validOf = async (userId: string) =>
    (
      await sql<{ n: number }>(
        t.orm,
        'SELECT count(*)::int AS n FROM sessions WHERE user_id = ? AND (expires_at IS NULL OR expires_at > now())',
        [userId],
      )
    )[0].n;

  // Under REPEATABLE READ the snapshot is taken when the lock statement starts, before
  // it waits: the count then misses the logins committed while it waited.
  it("20 concurrent logins, each in the caller's REPEATABLE READ transaction: at most max are valid", async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, () =>
        t.orm.em
          .fork()
          .transactional(() => capped.create({ userId: 'rr-1' }), { isolationLevel: IsolationLevel.REPEATABLE_READ }),
      ),
    );
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(Error); // refused, or told why not
    expect(await validOf('rr-1')).toBeLessThanOrEqual(3);
  });

  it('20 concurrent logins on a database whose default isolation is REPEATABLE READ: exactly max succeed', async () => {
    const rr = await createTestApp({
      kinds: [{ ttl: '1h', maxPerUser: { max: 3, onLimit: 'refuse' } }],
      recreate: false,
      orm: { pool: poolRunning("SET default_transaction_isolation = 'repeatable read'", 10) },
    });
    try {
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, () => rr.sessions().create({ userId: 'rr-2' })),
      );
      const ok = results.filter((r) => r.status === 'fulfilled').length;
      const refused = results.filter((r) => r.status === 'rejected' && r.reason instanceof SessionLimitError).length;
      expect([ok, refused]).toEqual([3, 17]);
      expect(await validOf('rr-2')).toBe(3);
    } finally {
      await rr.close();
    }
  });
});
