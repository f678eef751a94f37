import { Client } from 'pg';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host';
import { AuthenticatedGuard, type Session, type SessionsService } from '../lib';
import { me, twoServingInstances } from './support/instances';
import { onPglite } from './support/database';
import { MeController } from './support/me.controller';
import { createTestApp, type TestApp } from './support/app';
import { activate } from './support/guard';
import { until } from './support/until';

/** Statements on the sessions table: the listener's own probe notices are not lookups. */
const lookups = (t: TestApp) => t.log.matching(/"sessions"/);

// The cache serves only once it has heard a notice sent from another connection.
// Embedded PGlite serves every connection from one backend and delivers no notices
// across them, so there the cache must stay bypassed; the rest needs a real server.
(onPglite() ? describe : describe.skip)('session cache on PGlite', () => {
  it('is bypassed, so it can never serve a revoked session', async () => {
    const t = await createTestApp({ kinds: [{ cache: true }] });
    try {
      const sessions = t.sessions();
      await new Promise((r) => setTimeout(r, 1200)); // the probe's wait
      expect(sessions.cacheStatus).toMatchObject({ enabled: true, serving: false });
      const { session, token } = await sessions.create({ userId: 'u' });
      t.log.clear();
      expect(await sessions.authenticate(token)).not.toBeNull();
      expect(await sessions.authenticate(token)).not.toBeNull();
      expect(t.log.matching(/^select "id"/i)).toHaveLength(2);
      await sessions.delete(session);
      expect(await sessions.authenticate(token)).toBeNull();
    } finally {
      await t.close();
    }
  });
});

(onPglite() ? describe.skip : describe)('session cache (real PostgreSQL)', () => {
  let a: TestApp;
  let b: TestApp;
  let sa: SessionsService;
  let sb: SessionsService;

  beforeAll(async () => {
    [a, b] = await twoServingInstances([{ ttl: '1h', cache: { ttl: '1m', max: 3 } }]);
    sa = a.sessions();
    sb = b.sessions();
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  it('a cached request sends no query; sliding still writes at most once per threshold', async () => {
    const { token } = await sa.create({ userId: 'u' });
    b.log.clear();
    expect((await me(b, token)).status).toBe(200);
    expect(lookups(b)).toHaveLength(1);
    for (let i = 0; i < 5; i++) expect((await me(b, token)).status).toBe(200);
    expect(lookups(b)).toHaveLength(1);
  });

  it('the guard hashes a token once per request, cached or not', async () => {
    const guard = b.app.get(AuthenticatedGuard);
    const context = (token: string) => {
      const host = new ExecutionContextHost(
        [{ headers: { 'x-auth-token': token } }, {}, () => undefined],
        MeController,
        MeController.prototype.me,
      );
      host.setType('http');
      return host;
    };
    // A guard that has served a request of this kind before, as every guard but the first request's.
    const warm = await sa.create({ userId: 'warm' });
    await activate(guard, context(warm.token));
    const { token } = await sa.create({ userId: 'sync' });
    const digests = jest.spyOn(
      (sb as unknown as { parts: { digests: { of(token: string): string[] } } }).parts.digests,
      'of',
    );
    try {
      await expect(activate(guard, context(token))).resolves.toBe(true); // a miss: one lookup
      expect(digests).toHaveBeenCalledTimes(1);
      b.log.clear();
      await expect(activate(guard, context(token))).resolves.toBe(true); // a hit: no lookup
      expect(digests).toHaveBeenCalledTimes(2);
      expect(lookups(b)).toHaveLength(0);
    } finally {
      digests.mockRestore();
    }
  });

  it('serves copies: a handler mutating the session does not change the cache', async () => {
    const { token } = await sa.create({ userId: 'u', data: { n: 1 } });
    const first = (await sb.authenticate(token))!;
    (first.data as { n: number }).n = 99;
    expect((await sb.authenticate(token))!.data).toEqual({ n: 1 });
  });

  it('revocation in this process takes effect at once', async () => {
    const { session, token } = await sb.create({ userId: 'u' });
    expect((await me(b, token)).status).toBe(200);
    await sb.delete(session);
    expect((await me(b, token)).status).toBe(401);
  });

  it('revoke on one instance: the next request on the other gets 401', async () => {
    for (const revoke of [
      (s: Session) => sa.delete(s),
      (s: Session) => sa.expire(s),
      (s: Session) => sa.deleteAll({ userId: s.userId! }),
    ]) {
      const { session, token } = await sa.create({ userId: `u-${Math.random()}` });
      expect((await me(b, token)).status).toBe(200); // now cached on b
      b.log.clear();
      expect((await me(b, token)).status).toBe(200);
      expect(lookups(b)).toHaveLength(0);
      await revoke(session);
      expect((await me(b, token)).status).toBe(401);
    }
  });

  it('a revocation returns only once every other instance has dropped the session, even one that hears late', async () => {
    // b's listener handles notices 300 ms late, as a loaded instance might: the
    // revoking call must wait for b's acknowledgement, not just its own echo.
    const listener = (sb as unknown as { parts: { listener: { receive(message: unknown): void } } }).parts.listener;
    const receive = listener.receive.bind(listener);
    listener.receive = (message) => void setTimeout(() => receive(message), 300);
    try {
      const { session, token } = await sa.create({ userId: 'late' });
      expect((await me(b, token)).status).toBe(200); // cached on b
      await sa.delete(session);
      expect((await me(b, token)).status).toBe(401);
    } finally {
      listener.receive = receive;
    }
  });

  it('an instance that never answers delays a revocation by a bounded time, not forever', async () => {
    const listener = (sb as unknown as { parts: { listener: { receive(message: unknown): void } } }).parts.listener;
    const receive = listener.receive.bind(listener);
    listener.receive = () => undefined;
    try {
      const { session } = await sa.create({ userId: 'deaf' });
      const started = Date.now();
      await sa.delete(session);
      expect(Date.now() - started).toBeGreaterThanOrEqual(2900); // it waited for b's answer
      expect(await sa.findOne({ id: session.id })).toBeNull();
    } finally {
      listener.receive = receive;
    }
  }, 20_000);

  it('update on one instance is seen on the other', async () => {
    const { session, token } = await sa.create({ userId: 'u', data: { plan: 'free' } });
    expect(await (await me(b, token)).json()).toMatchObject({ data: { plan: 'free' } });
    await sa.update(session, { data: { plan: 'pro' } });
    expect(await (await me(b, token)).json()).toMatchObject({ data: { plan: 'pro' } });
  });

  it('keeps at most `max` sessions', async () => {
    const tokens = await Promise.all(Array.from({ length: 6 }, () => sb.create({ userId: 'lru' })));
    for (const { token } of tokens) await sb.authenticate(token);
    expect(sb.cacheStatus.size).toBeLessThanOrEqual(3);
    b.log.clear();
    await sb.authenticate(tokens[0].token); // evicted: a lookup again
    expect(lookups(b)).toHaveLength(1);
  });

  it('with the notification connection killed the cache is bypassed: still 401, then it recovers', async () => {
    const { session, token } = await sa.create({ userId: 'u' });
    expect((await me(b, token)).status).toBe(200);
    const admin = new Client({ connectionString: process.env.DATABASE_URL });
    await admin.connect();
    try {
      const pid = (sb as unknown as { parts: { listener: { ownPid: number } } }).parts.listener.ownPid;
      await admin.query('SELECT pg_terminate_backend($1)', [pid]);
      await until(() => !sb.cacheStatus.serving, 'b notices the lost connection');
      await sa.delete(session); // b cannot hear this
      expect((await me(b, token)).status).toBe(401);
      await until(() => sb.cacheStatus.serving, 'b listens again');
      const fresh = await sa.create({ userId: 'u' });
      expect((await me(b, fresh.token)).status).toBe(200);
      await sa.delete(fresh.session);
      expect((await me(b, fresh.token)).status).toBe(401);
    } finally {
      await admin.end();
    }
  });
});
