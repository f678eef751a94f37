import { Client } from 'pg';
import { SessionsTimeoutError } from '../lib';
import { MeController } from './support/me.controller';
import { createTestApp } from './support/app';
import { onPglite } from './support/database';

const database = () => new URL(process.env.DATABASE_URL!).pathname.slice(1);

/** Bounded load: `total` requests, `concurrency` at a time; returns the status counts. */
async function load(url: string, token: string, total: number, concurrency: number, during?: () => Promise<void>) {
  const statuses = new Map<number, number>();
  let sent = 0;
  const worker = async () => {
    while (sent < total) {
      sent++;
      const status = await fetch(url, { headers: { 'x-auth-token': token } }).then(
        (r) => r.status,
        () => 0,
      );
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
  };
  await Promise.all([...Array.from({ length: concurrency }, worker), during?.()]);
  return Object.fromEntries(statuses);
}

// Killing connections, locking tables and exhausting the pool need a real server:
// PGlite serves every connection from one backend.
(onPglite() ? describe.skip : describe)('faults (real PostgreSQL)', () => {
  let admin: Client;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => void unhandled.push(reason);

  beforeAll(async () => {
    admin = new Client({ connectionString: process.env.DATABASE_URL!.replace(/\/[^/]*$/, '/postgres') });
    await admin.connect();
    process.on('unhandledRejection', onUnhandled);
  });
  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled);
    await admin.query(`ALTER DATABASE "${database()}" ALLOW_CONNECTIONS true`);
    await admin.end();
  });

  const killAll = () =>
    admin.query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
      [database()],
    );

  it('connections killed and the database away mid-load: 503 while away, never 500, full recovery, no unhandled rejection', async () => {
    const t = await createTestApp({ kinds: [{}], controllers: [MeController], listen: true });
    try {
      const { token } = await t.sessions().create({ userId: 'u' });
      const statuses = await load(`${t.url}/me`, token, 600, 10, async () => {
        await new Promise((r) => setTimeout(r, 50));
        await killAll();
        await admin.query(`ALTER DATABASE "${database()}" ALLOW_CONNECTIONS false`);
        await killAll();
        await new Promise((r) => setTimeout(r, 300));
        await admin.query(`ALTER DATABASE "${database()}" ALLOW_CONNECTIONS true`);
      });
      console.log('faults: statuses under load with the database killed and away:', JSON.stringify(statuses));
      expect(Object.keys(statuses).map(Number).sort()).toEqual(expect.arrayContaining([200]));
      for (const status of Object.keys(statuses).map(Number)) expect([200, 503]).toContain(status);
      expect(statuses[503] ?? 0).toBeGreaterThan(0);
      const after = await load(`${t.url}/me`, token, 50, 5);
      expect(after).toEqual({ 200: 50 });
      expect(unhandled).toEqual([]);
    } finally {
      await admin.query(`ALTER DATABASE "${database()}" ALLOW_CONNECTIONS true`);
      await t.close();
    }
  });

  it('a slow database: statementTimeout bounds the lookup (503), then it recovers', async () => {
    const t = await createTestApp({ kinds: [{ statementTimeout: 0.3 }], controllers: [MeController], listen: true });
    const locker = new Client({ connectionString: process.env.DATABASE_URL });
    await locker.connect();
    try {
      const { token } = await t.sessions().create({ userId: 'u' });
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE sessions IN ACCESS EXCLUSIVE MODE');
      const started = Date.now();
      await expect(t.sessions().authenticate(token)).rejects.toBeInstanceOf(SessionsTimeoutError);
      expect(Date.now() - started).toBeLessThan(3000);
      expect((await fetch(`${t.url}/me`, { headers: { 'x-auth-token': token } })).status).toBe(503);
      await locker.query('ROLLBACK');
      expect((await fetch(`${t.url}/me`, { headers: { 'x-auth-token': token } })).status).toBe(200);
    } finally {
      await locker.end();
      await t.close();
    }
  });

  it('pool exhausted: requests wait up to the bound, then 503; served again once connections free up', async () => {
    const t = await createTestApp({ kinds: [{ statementTimeout: 0.5 }], controllers: [MeController], listen: true });
    try {
      const { token } = await t.sessions().create({ userId: 'u' });
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      // Hold every pooled connection (the test pool has 10) in open transactions.
      const connection = t.orm.em.getConnection();
      const holders = Array.from({ length: 10 }, () =>
        connection.transactional(async (trx) => {
          await connection.execute('SELECT 1', [], 'all', trx);
          await gate;
        }),
      );
      await new Promise((r) => setTimeout(r, 100));
      const started = Date.now();
      expect((await fetch(`${t.url}/me`, { headers: { 'x-auth-token': token } })).status).toBe(503);
      expect(Date.now() - started).toBeLessThan(3000);
      release();
      await Promise.all(holders);
      expect((await fetch(`${t.url}/me`, { headers: { 'x-auth-token': token } })).status).toBe(200);
    } finally {
      await t.close();
    }
  });
});
