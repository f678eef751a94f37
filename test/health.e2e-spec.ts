import { createServer } from 'node:net';
import { Controller, Get, Module } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import {
  type KindHealth,
  SessionsHealthIndicator,
  type SessionsHealthOptions,
  type SessionsService,
  UnknownKindError,
} from '../lib';
import { createTestApp, type TestApp, type TestAppOptions } from './support/app';
import { onPglite } from './support/database';
import { call } from './support/http';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy';

/** What the health controller passes to the indicator; a test sets it before calling. */
const checkOptions: SessionsHealthOptions = {};

/** Terminus's own usage: a `@HealthCheck()` route that runs indicators, here ours beside nothing else. */
@Controller('health')
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly sessions: SessionsHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([() => this.sessions.isHealthy('sessions', checkOptions)]);
  }
}

@Module({ imports: [TerminusModule], controllers: [HealthController], providers: [SessionsHealthIndicator] })
class HealthModule {}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Until the kind's listener has settled (it starts `connecting`; on PGlite its probe fails within a second). */
async function settled(service: SessionsService): Promise<void> {
  for (let i = 0; i < 500 && service.cacheStatus.listener === 'connecting'; i++) await sleep(10);
}

/** A local port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const boot = (options: TestAppOptions) => createTestApp({ listen: true, imports: [HealthModule], ...options });

afterEach(() => {
  delete checkOptions.kinds;
  delete checkOptions.timeout;
});

describe('SessionsHealthIndicator with @nestjs/terminus', () => {
  describe('a healthy app with two kinds (one cached, one not)', () => {
    let t: TestApp;

    beforeAll(async () => {
      t = await boot({ kinds: [{ cache: true }, { name: 'apiKeys' }] });
      await settled(t.sessions());
    });
    afterAll(() => t?.close());

    it('GET /health answers 200 with each kind: database up, the listener, the cache, where reads go', async () => {
      await t.sessions().create({ userId: 'alice' });
      const response = await call(`${t.url}/health`);
      expect(response.status).toBe(200);
      expect(response.json.status).toBe('ok');
      expect(response.json.error).toEqual({});
      const { sessions } = response.json.info;
      expect(response.json.details.sessions).toEqual(sessions);
      expect(sessions.status).toBe('up');
      expect(Object.keys(sessions.kinds)).toEqual(['default', 'apiKeys']);

      // PGlite accepts LISTEN but delivers no notice across connections: the listener never proves it hears.
      const listening = !onPglite();
      expect(sessions.kinds.default).toEqual({
        database: 'up',
        listener: listening ? 'listening' : 'unreachable',
        cache: { enabled: true, serving: listening, size: 0 },
        reads: 'primary',
      });
      // No cache and no replicas: nothing to hear, no listener.
      expect(sessions.kinds.apiKeys).toEqual({
        database: 'up',
        listener: 'off',
        cache: { enabled: false, serving: false, size: 0 },
        reads: 'primary',
      });
    });

    it('reports the cache filling once a session is looked up (when it serves)', async () => {
      const { token } = await t.sessions().create({ userId: 'bob' });
      await t.sessions().authenticate(token);
      const { json } = await call(`${t.url}/health`);
      expect(json.info.sessions.kinds.default.cache.size).toBe(onPglite() ? 0 : 1);
    });

    it('checks only the kinds asked for; an unknown kind is a programming error', async () => {
      const indicator = t.app.get(SessionsHealthIndicator);
      const result = await indicator.isHealthy('keys', { kinds: ['apiKeys'] });
      expect(Object.keys(result)).toEqual(['keys']);
      expect(result.keys.status).toBe('up');
      expect(Object.keys(result.keys.kinds)).toEqual(['apiKeys']);
      await expect(indicator.isHealthy('sessions', { kinds: ['apiKey'] })).rejects.toThrow(UnknownKindError);
      await expect(indicator.isHealthy('sessions', { kinds: ['apiKey'] })).rejects.toThrow(
        'no session kind named "apiKey"; registered: default, apiKeys',
      );
    });

    it('SessionsService.health() gives one kind the same, without terminus', async () => {
      const health: KindHealth = await t.sessions('apiKeys').health();
      expect(health).toEqual({
        database: 'up',
        listener: 'off',
        cache: { enabled: false, serving: false, size: 0 },
        reads: 'primary',
      });
    });
  });

  describe('the database stops answering (a hung server or network)', () => {
    let proxy: TcpProxy;
    let t: TestApp;

    beforeAll(async () => {
      // knex prints "Connection Error: ..." to the console when the proxy resets its connections.
      jest.spyOn(console, 'log').mockImplementation(() => undefined);
      proxy = await startTcpProxy(process.env.DATABASE_URL!);
      t = await boot({
        kinds: [{ cache: true }],
        orm: { clientUrl: proxy.url, pool: { min: 0, max: 1 } },
      });
      await settled(t.sessions());
    });
    afterAll(async () => {
      await t?.close();
      await proxy?.close();
      jest.restoreAllMocks();
    });

    it('answers 503 within the timeout with the kind down, and 200 once it answers again', async () => {
      checkOptions.timeout = 500;
      expect((await call(`${t.url}/health`)).status).toBe(200);

      proxy.hang();
      const started = Date.now();
      const down = await call(`${t.url}/health`);
      expect(Date.now() - started).toBeLessThan(3000);
      expect(down.status).toBe(503);
      expect(down.json.status).toBe('error');
      expect(down.json.info).toEqual({});
      expect(down.json.error.sessions.status).toBe('down');
      expect(down.json.error.sessions.kinds.default).toMatchObject({ database: 'down', error: 'timeout' });
      expect(down.json.details).toEqual(down.json.error);

      await proxy.resume();
      let back = await call(`${t.url}/health`);
      for (let i = 0; i < 50 && back.status !== 200; i++) {
        await sleep(100);
        back = await call(`${t.url}/health`);
      }
      expect(back.status).toBe(200);
      expect(back.json.info.sessions.kinds.default.database).toBe('up');
    });
  });

  describe('the database refuses connections (nothing listens on its port)', () => {
    let t: TestApp;

    beforeAll(async () => {
      const url = new URL(process.env.DATABASE_URL!);
      url.hostname = '127.0.0.1';
      url.port = String(await closedPort());
      // `connect: false`: the app starts without its database, as after a deploy during an outage.
      t = await boot({ kinds: [{ cache: true }], recreate: false, orm: { clientUrl: url.toString(), connect: false } });
    });
    afterAll(() => t?.close());

    it('answers 503 naming the error code, never the message (which names hosts)', async () => {
      const response = await call(`${t.url}/health`);
      expect(response.status).toBe(503);
      const kind = response.json.error.sessions.kinds.default;
      expect(kind).toMatchObject({ database: 'down', error: 'ECONNREFUSED', reads: 'primary' });
      expect(['connecting', 'unreachable']).toContain(kind.listener);
      expect(kind.cache).toEqual({ enabled: true, serving: false, size: 0 });
      expect(response.text).not.toContain('127.0.0.1');
    });
  });

  describe('a replica that cannot be reached', () => {
    let t: TestApp;

    beforeAll(async () => {
      const url = new URL(process.env.DATABASE_URL!);
      url.hostname = '127.0.0.1';
      url.port = String(await closedPort());
      t = await boot({
        kinds: [{ cache: true }],
        orm: { replicas: [{ name: 'gone', clientUrl: url.toString() }] },
      });
      await settled(t.sessions());
    });
    afterAll(() => t?.close());

    it('is reported, and the kind stays up: the primary answers reads', async () => {
      const response = await call(`${t.url}/health`);
      expect(response.status).toBe(200);
      const kind = response.json.info.sessions.kinds.default;
      expect(kind.database).toBe('up');
      expect(kind.replicas).toEqual([{ replica: 'gone', reachable: false, error: 'ECONNREFUSED' }]);
    });
  });

  // On a real streaming replica that applies WAL 3 s late (.ci/replica.sh; REPLICA_URL is its URL base).
  const replica = process.env.REPLICA_URL;
  (!onPglite() && replica ? describe : describe.skip)('a streaming replica (3 s behind)', () => {
    let t: TestApp;

    beforeAll(async () => {
      const database = new URL(process.env.DATABASE_URL!).pathname;
      t = await boot({
        kinds: [{ cache: true }],
        orm: { replicas: [{ clientUrl: `${replica!.replace(/\/$/, '')}${database}` }] },
      });
      await settled(t.sessions());
    });
    afterAll(() => t?.close());

    it('reports its lag in bytes and seconds, and reads on it once listening', async () => {
      const response = await call(`${t.url}/health`);
      expect(response.status).toBe(200);
      const kind = response.json.info.sessions.kinds.default;
      expect(kind).toMatchObject({ database: 'up', listener: 'listening', reads: 'replicas' });
      expect(kind.replicas).toHaveLength(1);
      const [lag] = kind.replicas;
      expect(lag).toMatchObject({ replica: '0', reachable: true });
      expect(lag.lagBytes).toBeGreaterThanOrEqual(0);
      expect(lag.lagSeconds).toBeGreaterThanOrEqual(0);
    });

    it('right after a write it has not applied yet: bytes to replay, and seconds behind once it has received it', async () => {
      await t.sessions().create({ userId: 'lag' });
      let lag = (await t.sessions().health()).replicas![0];
      expect(lag.reachable).toBe(true);
      // The commit waits 3 s on the replica: the primary is ahead by at least that record.
      expect(lag.lagBytes).toBeGreaterThan(0);
      // Seconds count while received WAL waits to be applied: streamed within milliseconds, applied 3 s later.
      for (let i = 0; i < 40 && !(lag.lagSeconds! > 0); i++) {
        await sleep(25);
        lag = (await t.sessions().health()).replicas![0];
      }
      expect(lag.lagSeconds).toBeGreaterThan(0);
    });
  });
});
