import { Controller, Get } from '@nestjs/common';
import { Client } from 'pg';
import { Authenticated, type SessionsService } from '../lib';
import { createTestApp, type TestApp } from './support/app';
import { skewClock, withClockOffset } from './support/clock';
import { countColumnWrites, onPglite, sql } from './support/database';
import { call } from './support/http';
import { until } from './support/until';

/** The row's last use, as stored. */
async function lastUsed(t: TestApp, table: string, id: string): Promise<Date | null> {
  const [row] = await sql<{ last_used_at: Date | null }>(t.orm, `SELECT last_used_at FROM ${table} WHERE id = ?`, [id]);
  return row.last_used_at === null ? null : new Date(row.last_used_at);
}

/** UPDATEs of `last_used_at` the instance sent, and how many of them wrote (an UPDATE that matched no row writes nothing). */
const lastUseWrites = (t: TestApp) => t.log.matching(/^update .*"last_used_at"/i);

/** Moves the recorded last use back by `seconds`. */
const usedAgo = (t: TestApp, table: string, id: string, seconds: number) =>
  sql(t.orm, `UPDATE ${table} SET last_used_at = last_used_at - make_interval(secs => ?) WHERE id = ?`, [seconds, id]);

describe('trackLastUsed', () => {
  let t: TestApp;
  let keys: SessionsService;
  let plain: SessionsService;
  beforeAll(async () => {
    t = await createTestApp({
      kinds: [
        { name: 'keys', ttl: null, trackLastUsed: '1m' },
        { name: 'sliding', ttl: '1h', extendThreshold: 0, trackLastUsed: '1m' },
        { name: 'plain', ttl: null },
      ],
    });
    keys = t.sessions('keys');
    plain = t.sessions('plain');
  });
  afterAll(() => t.close());

  it('null until the first use; the first use records it', async () => {
    const { session, token } = await keys.create({ userId: 'a' });
    expect(session.lastUsedAt).toBeNull();
    const before = Date.now();
    await keys.authenticate(token);
    await until(() => lastUseWrites(t).length > 0, 'the write is sent');
    await new Promise((r) => setTimeout(r, 50));
    const stored = await lastUsed(t, 'keys', session.id);
    expect(stored).not.toBeNull();
    expect(Math.abs(stored!.getTime() - before)).toBeLessThan(5_000);
    expect((await keys.findOne({ id: session.id }))!.lastUsedAt?.getTime()).toBe(stored!.getTime());
  });

  it('never a write inside the interval, however many uses', async () => {
    const { session, token } = await keys.create({ userId: 'b' });
    await keys.authenticate(token);
    await until(() => lastUseWrites(t).length > 0, 'the first write');
    await new Promise((r) => setTimeout(r, 50));
    const first = await lastUsed(t, 'keys', session.id);
    t.log.clear();
    for (let i = 0; i < 10; i++) await keys.authenticate(token);
    await new Promise((r) => setTimeout(r, 100));
    expect(lastUseWrites(t)).toHaveLength(0);
    expect((await lastUsed(t, 'keys', session.id))!.getTime()).toBe(first!.getTime());
  });

  it('20 parallel uses of a due session write once', async () => {
    const { session, token } = await keys.create({ userId: 'c' });
    t.log.clear();
    const found = await Promise.all(Array.from({ length: 20 }, () => keys.authenticate(token)));
    expect(found.every((s) => s?.id === session.id)).toBe(true);
    await new Promise((r) => setTimeout(r, 200));
    expect(lastUseWrites(t)).toHaveLength(1);
    expect(await lastUsed(t, 'keys', session.id)).not.toBeNull();
  });

  it('a use after the interval writes again (judged by the database clock, not this instance)', async () => {
    const { session, token } = await keys.create({ userId: 'd' });
    await keys.authenticate(token);
    await until(() => lastUseWrites(t).length > 0, 'the first write');
    await new Promise((r) => setTimeout(r, 50));
    await usedAgo(t, 'keys', session.id, 61);
    const stale = await lastUsed(t, 'keys', session.id);
    // This instance's memo still says "just written": a clock ahead makes the use due here too.
    t.log.clear();
    await withClockOffset(61_000, () => keys.authenticate(token));
    await until(() => lastUseWrites(t).length > 0, 'the second write');
    await new Promise((r) => setTimeout(r, 50));
    expect((await lastUsed(t, 'keys', session.id))!.getTime()).toBeGreaterThan(stale!.getTime());
  });

  it('a due sliding extension carries the last use: one UPDATE for both', async () => {
    const sliding = t.sessions('sliding');
    const { session, token } = await sliding.create({ userId: 'e' });
    await new Promise((r) => setTimeout(r, 5));
    t.log.clear();
    await sliding.authenticate(token);
    await new Promise((r) => setTimeout(r, 100));
    const updates = t.log.matching(/^update/i);
    expect(updates).toHaveLength(1);
    expect(updates[0]).toMatch(/"expires_at"/);
    expect(updates[0]).toMatch(/"last_used_at"/);
    expect(await lastUsed(t, 'sliding', session.id)).not.toBeNull();
  });

  it('off: no column, no write at all', async () => {
    const { session, token } = await plain.create({ userId: 'f' });
    expect(session).not.toHaveProperty('lastUsedAt');
    t.log.clear();
    for (let i = 0; i < 5; i++) await plain.authenticate(token);
    expect(t.log.matching(/^update/i)).toHaveLength(0);
    const columns = await sql<{ column_name: string }>(
      t.orm,
      `SELECT column_name FROM information_schema.columns WHERE table_name = 'plain'`,
    );
    expect(columns.map((c) => c.column_name)).not.toContain('last_used_at');
  });
});

@Controller()
class RefusingController {
  @Authenticated({ name: 'keys', scopes: ['admin'] })
  @Get('admin')
  admin() {
    return { ok: true };
  }

  @Authenticated({ name: 'keys', maxAge: '5m' })
  @Get('sudo')
  sudo() {
    return { ok: true };
  }

  @Authenticated({ name: 'keys' })
  @Get('me')
  me() {
    return { ok: true };
  }
}

// DESIGN §6: a *successful* authentication records the last use; a route's refusal is none.
// The cache serves only where revocations are heard: skipped on PGlite, which has no LISTEN across connections.
for (const cached of [false, true])
  (cached && onPglite() ? describe.skip : describe)(`trackLastUsed over HTTP (cache: ${cached})`, () => {
    let t: TestApp;
    let keys: SessionsService;
    beforeAll(async () => {
      t = await createTestApp({
        kinds: [
          { name: 'keys', ttl: null, trackLastUsed: '1m', scopes: true, ...(cached && { cache: { ttl: '1m' } }) },
        ],
        controllers: [RefusingController],
        listen: true,
      });
      keys = t.sessions('keys');
      if (cached) await until(() => keys.cacheStatus.serving, 'the cache serves');
    });
    afterAll(() => t.close());

    const get = (path: string, token: string) => call(`${t.url}${path}`, { headers: { 'x-auth-token': token } });

    it('a request its route refuses (scopes, maxAge) records no use; an admitted one does', async () => {
      const { session, token } = await keys.create({ userId: 'r', scopes: ['read'] });
      await sql(t.orm, `UPDATE keys SET inserted_at = inserted_at - interval '10 minutes' WHERE id = ?`, [session.id]);
      let restoreClock = () => {};
      if (cached) {
        // Into the cache (a use, written), then a clock past the interval: every use is due again.
        expect(await keys.authenticate(token)).not.toBeNull();
        await until(() => lastUseWrites(t).length > 0, 'the first use is written');
        await new Promise((r) => setTimeout(r, 50));
        await sql(t.orm, `UPDATE keys SET last_used_at = NULL WHERE id = ?`, [session.id]);
        restoreClock = skewClock(61_000);
      }
      try {
        t.log.clear();
        expect((await get('/admin', token)).status).toBe(403);
        expect((await get('/sudo', token)).status).toBe(401);
        if (cached) expect(t.log.matching(/^select "id"/i)).toHaveLength(0); // the cache answered both: no lookup
        await new Promise((r) => setTimeout(r, 200));
        expect(lastUseWrites(t)).toHaveLength(0);
        expect(await lastUsed(t, 'keys', session.id)).toBeNull();
        expect((await get('/me', token)).status).toBe(200);
        await until(() => lastUseWrites(t).length > 0, 'the admitted use is written');
      } finally {
        restoreClock();
      }
      await new Promise((r) => setTimeout(r, 50));
      expect(await lastUsed(t, 'keys', session.id)).not.toBeNull();
    });
  });

// Instances with their own pools racing on one row need a real server.
(onPglite() ? describe.skip : describe)('trackLastUsed across instances (real PostgreSQL)', () => {
  const apps: TestApp[] = [];
  beforeAll(async () => {
    const kinds = [{ ttl: null, trackLastUsed: '1m' }];
    apps.push(await createTestApp({ kinds }));
    for (let i = 0; i < 3; i++) apps.push(await createTestApp({ kinds, recreate: false }));
  });
  afterAll(async () => {
    for (const app of apps) await app.close();
  });

  it('20 parallel uses spread over 4 instances: exactly one write lands', async () => {
    const { session, token } = await apps[0].sessions().create({ userId: 'x' });
    // Count the writes that landed: a trigger counts every row version last_used_at got.
    const counter = await countColumnWrites(apps[0].orm, 'sessions', 'last_used_at');
    // The row stays locked until every instance has looked it up, so each reads the old
    // last_used_at and sends its UPDATE, which waits on the lock. Without it, an instance
    // whose lookups ran after the first write landed rightly sent none (seen once in CI).
    const locker = new Client({ connectionString: process.env.DATABASE_URL });
    await locker.connect();
    try {
      for (const app of apps) app.log.clear();
      await locker.query('BEGIN');
      await locker.query('SELECT 1 FROM sessions WHERE id = $1 FOR UPDATE', [session.id]);
      const found = await Promise.all(
        Array.from({ length: 20 }, (_, i) => apps[i % apps.length].sessions().authenticate(token)),
      );
      expect(found.every((s) => s?.id === session.id)).toBe(true);
      await locker.query('COMMIT');
      const sent = () => apps.reduce((n, app) => n + lastUseWrites(app).length, 0);
      await until(() => sent() >= apps.length, 'every instance sent its write').catch(() => undefined);
      expect(await counter.writes(session.id)).toBe(1);
      // Each instance sent its own UPDATE: the database's condition, not a memo, kept it to one write.
      expect(sent()).toBe(apps.length);
    } finally {
      await locker.end();
      await counter.stop();
    }
  });
});

describe('trackLastUsed inside a caller transaction', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ kinds: [{ name: 'inTx', ttl: null, trackLastUsed: '1m' }] });
  });
  afterAll(() => t.close());

  it('the background write does not join the caller transaction: it lands though that one rolls back', async () => {
    const keys = t.sessions('inTx');
    const { session, token } = await keys.create({ userId: 'tx' });
    await t.orm.em
      .fork()
      .transactional(async () => {
        expect(await keys.authenticate(token)).not.toBeNull();
        await new Promise((r) => setTimeout(r, 100));
        throw new Error('rolled back');
      })
      .catch(() => undefined);
    await new Promise((r) => setTimeout(r, 100));
    expect(await lastUsed(t, 'in_tx', session.id)).not.toBeNull();
  });
});
