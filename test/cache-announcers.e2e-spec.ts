import type { SessionsService } from '../lib';
import { createTestApp, type TestApp } from './support/app';
import { me } from './support/instances';
import { onPglite } from './support/database';
import { CapturingLogger } from './support/http';
import { MeController } from './support/me.controller';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy';
import { until } from './support/until';

/** Polls `/me` on `t` until it refuses `token`, for at most `ms`; the status it ended on. */
async function refusedWithin(t: TestApp, token: string, ms: number): Promise<number> {
  const started = Date.now();
  let status = (await me(t, token)).status;
  while (status === 200 && Date.now() - started < ms) {
    await new Promise((r) => setTimeout(r, 20));
    status = (await me(t, token)).status;
  }
  return status;
}

// Cross-connection notices need a real server (PGlite delivers none: its cache stays bypassed).
(onPglite() ? describe.skip : describe)('who announces a revocation (real PostgreSQL)', () => {
  describe('an instance without a listener of its own', () => {
    let worker: TestApp;
    let api: TestApp;
    let sw: SessionsService;

    beforeAll(async () => {
      // An admin app or a worker: no cache, no replica reads, so no listener.
      worker = await createTestApp({ kinds: [{ ttl: '1h' }] });
      api = await createTestApp({
        kinds: [{ ttl: '1h', cache: { ttl: '10m', max: 100 } }],
        controllers: [MeController],
        listen: true,
        recreate: false,
      });
      sw = worker.sessions();
      await until(() => api.sessions().cacheStatus.serving, 'the api instance serves from its cache');
    });
    afterAll(async () => {
      await worker?.close();
      await api?.close();
    });

    it.each([
      ['delete', (s: SessionsService, id: string) => s.delete(id)],
      ['expire', (s: SessionsService, id: string) => s.expire(id)],
      ['deleteAll', (s: SessionsService, id: string) => s.deleteAll({ id })],
    ])(
      '%s() there: a caching instance refuses the session within moments, not after its cache ttl',
      async (_, revoke) => {
        const { session, token } = await sw.create({ userId: 'worker' });
        expect((await me(api, token)).status).toBe(200); // now cached
        await revoke(sw, session.id);
        expect(await refusedWithin(api, token, 1000)).toBe(401);
      },
    );

    it('update() there: a caching instance serves the new data within moments', async () => {
      const { session, token } = await sw.create({ userId: 'worker', data: { plan: 'free' } });
      expect((await me(api, token)).status).toBe(200); // now cached
      await sw.update(session, { data: { plan: 'pro' } });
      const plan = async () => ((await (await me(api, token)).json()) as { data: { plan: string } }).data.plan;
      const started = Date.now();
      let seen = await plan();
      while (seen !== 'pro' && Date.now() - started < 1000) seen = await plan();
      expect(seen).toBe('pro');
    });
  });

  describe('an instance whose own listener is down', () => {
    let proxy: TcpProxy;
    let a: TestApp;
    let b: TestApp;
    let sa: SessionsService;
    const logger = new CapturingLogger();

    beforeAll(async () => {
      proxy = await startTcpProxy(process.env.DATABASE_URL!);
      const kind = { ttl: '1h', cache: { ttl: '10m', max: 100 } };
      // a's listener has its own route to the server (as with listenUrl), which is about to fail.
      b = await createTestApp({ kinds: [kind], controllers: [MeController], listen: true });
      // Last: Nest's logger is the last app's, and this test reads a's warnings.
      a = await createTestApp({ kinds: [{ ...kind, listenUrl: proxy.url }], logger, recreate: false });
      sa = a.sessions();
      await until(() => sa.cacheStatus.serving && b.sessions().cacheStatus.serving, 'both caches serve');
      // Its connection is cut (resume() resets every connection through the proxy), and the
      // proxy hangs again before the first reconnection (250 ms later) can get through.
      await proxy.resume();
      proxy.hang();
      await until(() => !sa.cacheStatus.serving, "a's listener is down");
    });
    afterAll(async () => {
      await a?.close();
      await b?.close();
      await proxy?.close();
    });

    it('a revocation there still tells the others, and warns that it could wait for none', async () => {
      const { session, token } = await sa.create({ userId: 'deaf' });
      expect((await me(b, token)).status).toBe(200); // cached on b
      logger.lines.length = 0;
      await sa.delete(session);
      expect(logger.lines.join('\n')).toMatch(/listener is down \(\w+\): no instance was waited for/);
      expect(await refusedWithin(b, token, 1000)).toBe(401);
    });
  });

  describe('an instance whose listening connection goes silent (no FIN, no RST)', () => {
    let proxy: TcpProxy;
    let a: TestApp;
    let b: TestApp;

    beforeAll(async () => {
      proxy = await startTcpProxy(process.env.DATABASE_URL!);
      const kind = { ttl: '1h', cache: { ttl: '10m', max: 100 } };
      a = await createTestApp({ kinds: [kind] });
      // b listens through the proxy: a NAT or load balancer that may drop the flow silently.
      b = await createTestApp({
        kinds: [{ ...kind, listenUrl: proxy.url }],
        controllers: [MeController],
        listen: true,
        recreate: false,
      });
      await until(() => a.sessions().cacheStatus.serving && b.sessions().cacheStatus.serving, 'both caches serve');
    });
    afterAll(async () => {
      await a?.close();
      await b?.close();
      await proxy?.close();
    });

    it('gives it up within seconds, so its cache stops serving what it can no longer hear revoked', async () => {
      const { session, token } = await a.sessions().create({ userId: 'silent' });
      expect((await me(b, token)).status).toBe(200); // cached on b
      proxy.hang();
      const started = Date.now();
      while (b.sessions().cacheStatus.serving && Date.now() - started < 10_000)
        await new Promise((r) => setTimeout(r, 50));
      expect(b.sessions().cacheStatus).toMatchObject({ serving: false });
      expect(Date.now() - started).toBeLessThan(8000); // the heartbeat's interval and timeout, 5 + 2 s
      await a.sessions().delete(session); // b cannot acknowledge: this waits the 3 s timeout
      expect((await me(b, token)).status).toBe(401);
      await proxy.resume();
      await until(() => b.sessions().cacheStatus.serving, 'b listens again');
    }, 30_000);
  });

  it('a listener connecting into a black hole gives up within seconds and tries again', async () => {
    const proxy = await startTcpProxy(process.env.DATABASE_URL!);
    proxy.hang(); // accepted, never answered
    const t = await createTestApp({ kinds: [{ ttl: '1h', cache: { ttl: '10m', max: 100 }, listenUrl: proxy.url }] });
    try {
      const started = Date.now();
      while (t.sessions().cacheStatus.listener === 'connecting' && Date.now() - started < 10_000)
        await new Promise((r) => setTimeout(r, 50));
      expect(t.sessions().cacheStatus.listener).toBe('unreachable'); // the 5 s connection timeout
      await proxy.resume();
      await until(() => t.sessions().cacheStatus.serving, 'it listens once the route answers');
    } finally {
      await t.close();
      await proxy.close();
    }
  }, 30_000);

  it("an app that names the default schema and one that does not share one table's revocations", async () => {
    const cache = { ttl: '10m', max: 100 };
    const named = await createTestApp({ kinds: [{ ttl: '1h', cache, schema: 'public' }] });
    const bare = await createTestApp({
      kinds: [{ ttl: '1h', cache }],
      controllers: [MeController],
      listen: true,
      recreate: false,
    });
    try {
      await until(() => named.sessions().cacheStatus.serving && bare.sessions().cacheStatus.serving, 'both serve');
      const { session, token } = await named.sessions().create({ userId: 'schema' });
      expect((await me(bare, token)).status).toBe(200); // cached on the app that names no schema
      await named.sessions().delete(session); // waits for that app's answer
      expect((await me(bare, token)).status).toBe(401);
    } finally {
      await named.close();
      await bare.close();
    }
  });
});
