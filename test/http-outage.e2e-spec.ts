import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Adapter, createTestApp, type TestApp } from './support/app';
import { type EmbeddedPostgresProcess, spawnEmbeddedPostgres } from './support/embedded-postgres-process';
import { CapturingLogger, call } from './support/http';
import { createHttpTestApp } from './support/http-app';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy';
import { MeController } from './support/me.controller';
import { digestsOf } from './support/digests';

/** The parts of `pg` used here (it comes with @mikro-orm/postgresql; no @types/pg installed). */
interface PgClient {
  connect(): Promise<void>;
  query(sql: string, params?: unknown[]): Promise<{ rows: Array<Record<string, unknown>> }>;
  end(): Promise<void>;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Client } = require('pg') as { Client: new (options: { connectionString: string }) => PgClient };

/** What the driver and pool print to the console (knex warns "Connection Error: ..."), checked for secrets too. */
const consoleLines: string[] = [];
beforeAll(() => {
  for (const method of ['log', 'warn', 'error'] as const) {
    jest
      .spyOn(console, method)
      .mockImplementation((...args: unknown[]) => void consoleLines.push(args.map(String).join(' ')));
  }
});
afterAll(() => jest.restoreAllMocks());

const UNAVAILABLE = {
  statusCode: 503,
  error: 'Service Unavailable',
  message: 'Sessions are unavailable; try again shortly',
};

/**
 * While the database is away: 503 (not 401, which would log users out, and not
 * 500), quickly; optional routes without a token still work; and the next
 * request after it returns succeeds, with nothing restarted.
 */
async function expectOutageHandled(
  t: TestApp,
  logger: CapturingLogger,
  goDown: () => Promise<void>,
  comeBack: () => Promise<void>,
): Promise<void> {
  const { token } = await t.sessions().create({ userId: 'alice' });
  const me = () => call(`${t.url}/me`, { headers: { 'x-auth-token': token } });
  expect((await me()).json).toMatchObject({ userId: 'alice' });

  await goDown();
  const started = Date.now();
  for (let i = 0; i < 3; i++) {
    const down = await me();
    expect(down.status).toBe(503);
    expect(down.json).toEqual(UNAVAILABLE);
    expect(down.headers.get('www-authenticate')).toBeNull();
  }
  const optional = await call(`${t.url}/maybe`, { headers: { authorization: `Bearer ${token}` } });
  expect(optional.status).toBe(503);
  expect((await call(`${t.url}/maybe`)).json).toEqual({ userId: null });
  expect(Date.now() - started).toBeLessThan(15_000);

  await comeBack();
  expect((await me()).json).toMatchObject({ userId: 'alice' });
  expect((await call(`${t.url}/maybe`, { headers: { authorization: `Bearer ${token}` } })).json).toEqual({
    userId: 'alice',
  });

  const failures = logger.lines.filter((line) => line.includes('Session lookup for kind "default" failed'));
  expect(failures.length).toBeGreaterThanOrEqual(4);
  for (const line of [...logger.lines, ...consoleLines]) {
    expect(line).not.toContain(token);
    for (const digest of digestsOf(t.sessions(), token)) expect(line).not.toContain(digest);
  }
}

describe.each<Adapter>(['express', 'fastify'])('the database unreachable mid-run on %s', (adapter) => {
  describe('an embedded PostgreSQL process stopped, then started again on the same port and data', () => {
    let dataDir: string;
    let db: EmbeddedPostgresProcess | undefined;
    let t: TestApp;
    const logger = new CapturingLogger();

    beforeAll(async () => {
      dataDir = mkdtempSync(join(tmpdir(), 'ecto-sessions-outage-'));
      db = await spawnEmbeddedPostgres({ dataDir });
      t = await createHttpTestApp({
        adapter,
        controllers: [MeController],
        orm: { clientUrl: db.url, pool: { min: 0, max: 1 } },
      });
      t.app.useLogger(logger);
    }, 120_000);
    afterAll(async () => {
      await t?.close();
      await db?.stop();
      rmSync(dataDir, { recursive: true, force: true });
    });

    it('answers 503 while it is down and 200 once it is back', async () => {
      const port = db!.port;
      await expectOutageHandled(
        t,
        logger,
        async () => {
          await db!.stop();
          db = undefined;
        },
        async () => {
          db = await spawnEmbeddedPostgres({ dataDir, port });
        },
      );
    }, 150_000);
  });

  describe('the database stops answering (a hung server or network), with timeouts set on the ORM', () => {
    let proxy: TcpProxy;
    let t: TestApp;
    const logger = new CapturingLogger();

    beforeAll(async () => {
      proxy = await startTcpProxy(process.env.DATABASE_URL!);
      t = await createHttpTestApp({
        adapter,
        controllers: [MeController],
        orm: {
          clientUrl: proxy.url,
          pool: { min: 0, max: 1 },
          // How long a user waits before the 503 is the ORM's business: pg's client-side timeouts here.
          driverOptions: {
            acquireConnectionTimeout: 1000,
            connection: { query_timeout: 500, connectionTimeoutMillis: 500 },
          },
        },
      });
      t.app.useLogger(logger);
    });
    afterAll(async () => {
      await t?.close();
      await proxy?.close();
    });

    it('answers 503 while queries time out and 200 once it answers again', async () => {
      await expectOutageHandled(
        t,
        logger,
        async () => proxy.hang(),
        () => proxy.resume(),
      );
    });
  });

  // On a real server: the database refuses new connections and its sessions are killed.
  (process.env.TEST_DATABASE_KIND === 'postgres' ? describe : describe.skip)(
    'ALTER DATABASE ... ALLOW_CONNECTIONS false and pg_terminate_backend, then allowed again',
    () => {
      let t: TestApp;
      let admin: PgClient;
      let database: string;
      const logger = new CapturingLogger();
      const allow = (yes: boolean) => admin.query(`ALTER DATABASE "${database}" ALLOW_CONNECTIONS ${yes}`);

      beforeAll(async () => {
        const url = new URL(process.env.DATABASE_URL!);
        database = decodeURIComponent(url.pathname.slice(1));
        url.pathname = '/postgres';
        admin = new Client({ connectionString: url.toString() });
        await admin.connect();
        t = await createTestApp({ adapter, listen: true, controllers: [MeController] });
        t.app.useLogger(logger);
      });
      afterAll(async () => {
        await allow(true); // whatever happened, leave the database usable
        await admin.end();
        await t?.close();
      });

      it('answers 503 while it is refused and 200 once it is allowed', async () => {
        await expectOutageHandled(
          t,
          logger,
          async () => {
            await allow(false);
            const { rows } = await admin.query(
              'SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
              [database],
            );
            expect(rows.length).toBeGreaterThan(0);
          },
          () => allow(true).then(() => undefined),
        );
      });
    },
  );
});
