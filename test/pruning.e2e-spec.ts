import { Client } from 'pg';
import type { SessionsPrunedEvent } from '../lib';
import { onPglite, sql } from './support/database';
import { createTestApp, type TestApp } from './support/app';

const LOCK_KEY = 'nestjs-ecto-sessions:"sessions"';

/** Inserts `n` rows that expired an hour ago, in one statement. */
async function insertExpired(t: TestApp, n: number, userId = 'pruned') {
  await sql(
    t.orm,
    `INSERT INTO sessions (id, auth_token_digest, data, expires_at, inserted_at, updated_at, user_id)
     SELECT gen_random_uuid(), md5(random()::text || g::text), '{}', ?, ?, ?, ?
     FROM generate_series(1, ?) g`,
    [
      new Date(Date.now() - 3600_000).toISOString(),
      new Date(Date.now() - 7200_000).toISOString(),
      new Date().toISOString(),
      userId,
      n,
    ],
  );
}

describe('pruning', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ kinds: [{ pruneBatchSize: 10_000 }] });
  });
  afterAll(() => t.close());
  beforeEach(() => sql(t.orm, 'DELETE FROM sessions'));

  it('deletes expired rows in bounded batches and keeps valid ones', async () => {
    const sessions = t.sessions();
    await insertExpired(t, 25_000);
    const valid = await sessions.create({ userId: 'keep' });
    t.log.clear();
    expect(await sessions.prune()).toBe(25_000);
    const deletes = t.log.matching(/^delete/i);
    expect(deletes).toHaveLength(3); // 10,000 + 10,000 + 5,000
    for (const d of deletes) expect(d).toMatch(/limit \$\d+ for update skip locked/i);
    expect(t.log.matching(/pg_try_advisory_xact_lock/)).toHaveLength(1);
    expect(await sessions.count({ status: 'all' })).toBe(1);
    expect(await sessions.authenticate(valid.token)).not.toBeNull();
  });

  it('pruneGrace keeps recently expired rows for audit', async () => {
    const app = await createTestApp({ kinds: [{ pruneGrace: '2h' }], recreate: false });
    try {
      const sessions = app.sessions();
      await insertExpired(t, 3); // expired 1 h ago: inside the grace
      const { session } = await sessions.create({ userId: 'old' });
      await sql(t.orm, 'UPDATE sessions SET expires_at = ? WHERE id = ?', [
        new Date(Date.now() - 3 * 3600_000).toISOString(),
        session.id,
      ]);
      expect(await sessions.prune()).toBe(1);
      expect(await sessions.count({ status: 'expired' })).toBe(3);
    } finally {
      await app.close();
    }
  });

  it('authentications keep succeeding while 200,000 expired rows are pruned', async () => {
    const sessions = t.sessions();
    await insertExpired(t, 200_000);
    const live = await Promise.all(Array.from({ length: 5 }, () => sessions.create({ userId: 'live' })));
    t.log.clear();
    let pruned: number | null = null;
    const pruning = sessions.prune().then((n) => (pruned = n));
    let authenticated = 0;
    let failed = 0;
    while (pruned === null) {
      const results = await Promise.all(live.map(({ token }) => sessions.authenticate(token)));
      for (const r of results) {
        if (r) authenticated++;
        else failed++;
      }
    }
    await pruning;
    expect(pruned).toBe(200_000);
    expect(failed).toBe(0);
    expect(authenticated).toBeGreaterThan(0);
    expect(t.log.matching(/^delete/i).length).toBe(21); // 20 full batches and one empty
    expect(await sessions.count({ status: 'all' })).toBe(5);
  });

  it("logs each cycle through Nest's Logger and reports onPruned", async () => {
    const events: SessionsPrunedEvent[] = [];
    const app = await createTestApp({ kinds: [{ onPruned: (e) => void events.push(e) }], recreate: false });
    try {
      await insertExpired(t, 7);
      expect(await app.sessions().prune()).toBe(7);
      expect(events).toEqual([{ kind: 'default', count: 7 }]);
    } finally {
      await app.close();
    }
  });

  it('the timer prunes by itself, never keeps the process alive, and stops on shutdown', async () => {
    const events: SessionsPrunedEvent[] = [];
    const app = await createTestApp({
      kinds: [{ pruneInterval: 0.05, onPruned: (e) => void events.push(e) }],
      recreate: false,
    });
    const timer = (app.sessions() as unknown as { parts: { pruner: { timer: NodeJS.Timeout } } }).parts.pruner.timer;
    expect(timer.hasRef()).toBe(false);
    await insertExpired(t, 4);
    for (let i = 0; i < 200 && events.length === 0; i++) await new Promise((r) => setTimeout(r, 25));
    expect(events).toEqual([{ kind: 'default', count: 4 }]);
    await app.close();
    await insertExpired(t, 2);
    await new Promise((r) => setTimeout(r, 200));
    expect(await t.sessions().count({ status: 'expired' })).toBe(2);
    expect(events).toHaveLength(1);
  });

  // PGlite serves every connection from one backend, so a lock held on one
  // connection is held by all: the lock can only be shown on a real server.
  (onPglite() ? describe.skip : describe)('several instances (real PostgreSQL only)', () => {
    let admin: Client;
    beforeAll(async () => {
      admin = new Client({ connectionString: process.env.DATABASE_URL });
      await admin.connect();
    });
    afterAll(() => admin.end());

    it("an instance skips its cycle while another holds the table's lock", async () => {
      const other = await createTestApp({ kinds: [{}], recreate: false });
      try {
        await insertExpired(t, 10);
        await admin.query('BEGIN');
        await admin.query('SELECT pg_advisory_xact_lock(hashtext($1))', [LOCK_KEY]);
        expect(await t.sessions().prune()).toBeNull();
        expect(await other.sessions().prune()).toBeNull();
        expect(await t.sessions().count({ status: 'expired' })).toBe(10);
        await admin.query('COMMIT');
        const results = await Promise.all([t.sessions().prune(), other.sessions().prune()]);
        // One instance deletes all ten; the other was locked out or found nothing left.
        expect(results.filter((n) => n === 10)).toHaveLength(1);
        expect(results.reduce<number>((sum, n) => sum + (n ?? 0), 0)).toBe(10);
      } finally {
        await other.close();
      }
    });

    it('two instances on a short interval delete each expired row once', async () => {
      const seen: number[] = [];
      const apps = await Promise.all(
        [0, 1].map(() =>
          createTestApp({
            kinds: [{ pruneInterval: 0.02, pruneBatchSize: 500, onPruned: (e) => void seen.push(e.count) }],
            recreate: false,
          }),
        ),
      );
      try {
        await insertExpired(t, 5_000);
        for (let i = 0; i < 400 && seen.reduce((a, b) => a + b, 0) < 5_000; i++)
          await new Promise((r) => setTimeout(r, 25));
        expect(seen.reduce((a, b) => a + b, 0)).toBe(5_000);
        expect(await t.sessions().count({ status: 'all' })).toBe(0);
      } finally {
        await Promise.all(apps.map((a) => a.close()));
      }
    });
  });
});
