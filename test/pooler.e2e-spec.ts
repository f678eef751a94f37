import type { SessionsService } from '../lib';
import { createTestApp, type TestApp } from './support/app';
import { onPglite, sql } from './support/database';
import { withClockOffset } from './support/clock';
import { CapturingLogger } from './support/http';

/**
 * Through a real transaction pooler (PgBouncer, `pool_mode = transaction`),
 * started by `.ci/pgbouncer.sh`, which prints the URL to set as PGBOUNCER_URL.
 */
const pooler = process.env.PGBOUNCER_URL;
const runs = !onPglite() && !!pooler;
if (!runs) {
  console.info(
    `test/pooler skipped: ${onPglite() ? 'needs a real server' : 'PGBOUNCER_URL is not set (.ci/pgbouncer.sh)'}`,
  );
}

/** The test database, reached through the pooler. */
function throughPooler(): string {
  const direct = new URL(process.env.DATABASE_URL!);
  return `${pooler!.replace(/\/$/, '')}${direct.pathname}`;
}

const timed = async (call: () => Promise<unknown>) => {
  const started = performance.now();
  await call();
  return performance.now() - started;
};

(runs ? describe : describe.skip)('behind PgBouncer in transaction mode', () => {
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
