import type { SessionsService } from '../lib';
import { createTestApp, type TestApp } from './support/app';
import { countColumnWrites, sql } from './support/database';
import { withClockOffset } from './support/clock';
import { CapturingLogger } from './support/http';
import { notePoolerSkipped, poolerRuns, throughPooler } from './support/pooler';
import { until } from './support/until';

/** Through a real transaction pooler (PgBouncer, `pool_mode = transaction`). */
notePoolerSkipped('test/pooler');

const timed = async (call: () => Promise<unknown>) => {
  const started = performance.now();
  await call();
  return performance.now() - started;
};

(poolerRuns ? describe : describe.skip)('behind PgBouncer in transaction mode', () => {
  let a: TestApp;
  let b: TestApp;
  let sa: SessionsService;
  let sb: SessionsService;
  const warnings = new CapturingLogger();

  beforeAll(async () => {
    const kinds = [{ ttl: '1h', extendThreshold: '5m', cache: { ttl: '10m' } }];
    const orm = { clientUrl: throughPooler() };
    a = await createTestApp({ kinds, orm, logger: warnings });
    b = await createTestApp({ kinds, orm, recreate: false });
    sa = a.sessions();
    sb = b.sessions();
    await new Promise((r) => setTimeout(r, 1500)); // longer than the listener's probe
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  it('knows it cannot listen there: the cache stays bypassed, and it says so once', () => {
    expect(sa.cacheStatus).toMatchObject({ enabled: true, serving: false });
    expect(sb.cacheStatus).toMatchObject({ enabled: true, serving: false });
    expect(warnings.lines.filter((l) => /transaction pooler/.test(l))).toHaveLength(1);
  });

  it('no pooled connection is ever named as a listener, so no revocation waits for one', async () => {
    const [{ named }] = await sql<{ named: number }>(
      a.orm,
      `SELECT count(*)::int AS named FROM pg_stat_activity WHERE application_name LIKE 'nestjs-ecto-sessions:%' AND datname = current_database()`,
    );
    expect(named).toBe(0);
  });

  it('authenticates, slides, and a revocation on one instance is refused at once on the other, without waiting', async () => {
    for (const revoke of [
      (s: SessionsService, id: string) => s.delete(id),
      (s: SessionsService, id: string) => s.expire(id),
      (s: SessionsService, id: string) => s.deleteAll({ id }),
      (s: SessionsService, id: string) => s.update(id, { data: { changed: true } }),
    ]) {
      const { session, token } = await sa.create({ userId: 'pooled' });
      expect(await sb.authenticate(token)).not.toBeNull();
      await sql(a.orm, `UPDATE sessions SET expires_at = now() + interval '10 minutes' WHERE id = ?`, [session.id]);
      const slid = await sb.authenticate(token);
      expect(slid!.expiresAt!.getTime()).toBeGreaterThan(Date.now() + 3_000_000);
      const took = await timed(() => revoke(sa, session.id));
      expect(took).toBeLessThan(1000); // a wait for acknowledgements would take 3 s
      const after = await sb.authenticate(token);
      if (after) expect(after.data).toEqual({ changed: true });
    }
  });

  it('clocks 2 s apart, through the pooler: after expire() on one instance, the other neither honours nor slides it', async () => {
    for (const [skewA, skewB] of [
      [2000, 0],
      [0, -2000],
    ]) {
      const { session, token } = await sa.create({ userId: `skew${skewA}${skewB}` });
      await withClockOffset(skewA, () => sa.expire(session.id));
      expect(await withClockOffset(skewB, () => sb.authenticate(token))).toBeNull();
      const [{ past }] = await sql<{ past: boolean }>(
        a.orm,
        'SELECT expires_at <= clock_timestamp() AS past FROM sessions WHERE id = ?',
        [session.id],
      );
      expect(past).toBe(true);
    }
  });

  it('a request queued for a pooled connection before expire() does not revive the session, through the pooler', async () => {
    const kinds = [{ ttl: '1h', extendThreshold: 0 }];
    const slow = await createTestApp({
      kinds,
      recreate: false,
      orm: { clientUrl: throughPooler(), pool: { min: 0, max: 1 } },
    });
    try {
      const { session, token } = await sa.create({ userId: 'queued' });
      const busy = sql(slow.orm, 'SELECT pg_sleep(1.5)'); // its only connection is busy
      await new Promise((r) => setTimeout(r, 100));
      const inFlight = slow.sessions().authenticate(token);
      await new Promise((r) => setTimeout(r, 1100));
      await sa.expire(session.id);
      await Promise.all([busy, inFlight]);
      expect(await sa.authenticate(token)).toBeNull();
      expect(await slow.sessions().authenticate(token)).toBeNull();
    } finally {
      await slow.close();
    }
  });

  it('prunes through the pooler: its transaction-scoped lock lets one instance prune at a time', async () => {
    await sql(a.orm, 'DELETE FROM sessions');
    await Promise.all(Array.from({ length: 300 }, () => sa.create({ userId: 'old' })));
    await sql(a.orm, `UPDATE sessions SET expires_at = now() - interval '1 day'`);
    const results = await Promise.all([sa.prune(), sb.prune(), sa.prune(), sb.prune()]);
    const pruned = results.filter((r): r is number => r !== null);
    expect(pruned.reduce((sum, n) => sum + n, 0)).toBe(300);
    expect(await sa.count({ status: 'all' })).toBe(0);
  });
});

(poolerRuns ? describe : describe.skip)('the security features behind PgBouncer in transaction mode', () => {
  const kind = {
    tableName: 'pooled_secure',
    ttl: '1h',
    rotation: { grace: '30s', every: '10m' },
    scopes: true,
    trackLastUsed: '1m',
  };
  let a: TestApp;
  let b: TestApp;
  let sa: SessionsService;
  let sb: SessionsService;

  beforeAll(async () => {
    const orm = { clientUrl: throughPooler() };
    a = await createTestApp({ kinds: [kind], orm, recreate: false });
    b = await createTestApp({ kinds: [kind], orm, recreate: false });
    await a.orm.schema.updateSchema({ wrap: false, dropTables: false, safe: true }); // its own table
    sa = a.sessions();
    sb = b.sessions();
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  const ageBy = (id: string, seconds: number) =>
    sql(
      a.orm,
      `UPDATE pooled_secure SET rotated_at = rotated_at - make_interval(secs => ?), inserted_at = inserted_at - make_interval(secs => ?) WHERE id = ?`,
      [seconds, seconds, id],
    );

  it('rotation: the replaced token works inside its grace on the other instance, one two rotations old never; clocks a second off change nothing', async () => {
    const { session, token: t0 } = await sa.create({ userId: 'p-rot' });
    const { token: t1 } = (await sa.rotate(session))!;
    expect((await withClockOffset(1000, () => sb.authenticate(t0)))?.id).toBe(session.id);
    const { token: t2 } = (await sa.rotate(session))!;
    expect(await withClockOffset(-1000, () => sb.authenticate(t0))).toBeNull();
    expect((await sb.authenticate(t1))?.id).toBe(session.id);
    // Past its grace by the database's clock (31 s), an instance whose clock runs a second behind still refuses it.
    await sql(a.orm, `UPDATE pooled_secure SET rotated_at = rotated_at - interval '31 seconds' WHERE id = ?`, [
      session.id,
    ]);
    expect(await withClockOffset(-1000, () => sb.authenticate(t1))).toBeNull();
    expect((await sb.authenticate(t2))?.id).toBe(session.id);
  });

  it('the guard reissue: 20 concurrent due requests over two pooled instances rotate the token once', async () => {
    const { session, token } = await sa.create({ userId: 'p-every' });
    await ageBy(session.id, 11 * 60);
    const due = (await sa.authenticate(token))!;
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? sa : sb).requests.reissue(due, token)),
    );
    const won = results.filter((r) => r !== null);
    expect(won).toHaveLength(1);
    expect((await sb.authenticate(won[0]!.token))?.id).toBe(session.id);
  });

  it('last use: 20 parallel uses over two pooled instances write once', async () => {
    const counter = await countColumnWrites(a.orm, 'pooled_secure', 'last_used_at');
    try {
      const { session, token } = await sa.create({ userId: 'p-used' });
      const found = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? sa : sb).authenticate(token)));
      expect(found.every((s) => s?.id === session.id)).toBe(true);
      await new Promise((r) => setTimeout(r, 300));
      expect(await counter.writes(session.id)).toBe(1);
    } finally {
      await counter.stop();
    }
  });

  it('scopes: update() on one instance is what the other reads next', async () => {
    const { session, token } = await sa.create({ userId: 'p-scopes', scopes: ['read', 'write'] });
    await sa.update(session, { scopes: ['read'] });
    expect((await sb.authenticate(token))?.scopes).toEqual(['read']);
  });

  it('a reissue queued for a pooled connection before delete() revives nothing', async () => {
    const slow = await createTestApp({
      kinds: [kind],
      recreate: false,
      orm: { clientUrl: throughPooler(), pool: { min: 0, max: 1 } },
    });
    try {
      const { session, token } = await sa.create({ userId: 'p-queued' });
      await ageBy(session.id, 11 * 60);
      const due = (await slow.sessions().authenticate(token))!; // as a request read it, before the delete
      const busy = sql(slow.orm, 'SELECT pg_sleep(1.5)'); // its only connection is busy
      await new Promise((r) => setTimeout(r, 100));
      const reissue = slow.sessions().requests.reissue(due, token);
      await new Promise((r) => setTimeout(r, 1100));
      expect(await sa.delete(session.id)).toBe(true);
      await busy;
      expect(await reissue).toBeNull();
      expect(await sa.authenticate(token)).toBeNull();
      expect(await sa.count({ id: session.id, status: 'all' })).toBe(0);
    } finally {
      await slow.close();
    }
  });

  it('an instance without a listener revokes through the pooler: one caching behind listenUrl refuses within moments', async () => {
    // An admin app or worker: no cache, its connections pooled; its notice goes out through PgBouncer.
    const worker = await createTestApp({
      kinds: [{ ttl: '1h' }],
      recreate: false,
      orm: { clientUrl: throughPooler() },
    });
    const api = await createTestApp({
      kinds: [{ ttl: '1h', cache: { ttl: '10m' }, listenUrl: process.env.DATABASE_URL! }],
      recreate: false,
      orm: { clientUrl: throughPooler() },
    });
    try {
      const sapi = api.sessions();
      await until(() => sapi.cacheStatus.serving, 'the cache behind listenUrl serves');
      const { session, token } = await worker.sessions().create({ userId: 'p-worker' });
      expect(await sapi.authenticate(token, { extend: false })).not.toBeNull(); // now cached
      await worker.sessions().delete(session);
      const started = Date.now();
      while ((await sapi.authenticate(token, { extend: false })) !== null) {
        if (Date.now() - started > 1000) throw new Error('still served from the cache 1 s after delete()');
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      await worker.close();
      await api.close();
    }
  });
});
