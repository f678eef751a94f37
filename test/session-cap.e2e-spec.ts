import { SessionLimitError, type SessionEvent, type SessionsService } from '../lib';
import { createTestApp, type TestApp } from './support/app';
import { onPglite, sql } from './support/database';
import { notePoolerSkipped, poolerRuns, throughPooler } from './support/pooler';
import { until } from './support/until';

const validCount = async (t: TestApp, table: string, userId: string) =>
  (
    await sql<{ n: number }>(
      t.orm,
      `SELECT count(*)::int AS n FROM ${table} WHERE user_id = ? AND (expires_at IS NULL OR expires_at > clock_timestamp())`,
      [userId],
    )
  )[0].n;

describe('maxPerUser', () => {
  let t: TestApp;
  let oldest: SessionsService;
  let refuse: SessionsService;
  const expired: SessionEvent[] = [];
  beforeAll(async () => {
    t = await createTestApp({
      kinds: [
        { name: 'oldest', ttl: '1h', maxPerUser: { max: 3 }, onExpired: (e) => void expired.push(e) },
        { name: 'refuse', ttl: '1h', maxPerUser: { max: 3, onLimit: 'refuse' } },
        {
          name: 'byAccount',
          ttl: null,
          columns: { accountId: { type: 'integer', index: true } },
          maxPerUser: { max: 1, column: 'accountId' },
        },
      ],
    });
    oldest = t.sessions('oldest');
    refuse = t.sessions('refuse');
  });
  afterAll(() => t.close());
  beforeEach(() => (expired.length = 0));

  it('expireOldest: the (max+1)th login expires the oldest, and create says which', async () => {
    const first = await oldest.create({ userId: 'u1', data: { device: 'phone' } });
    expect(first.expired).toEqual([]);
    await oldest.create({ userId: 'u1' });
    await oldest.create({ userId: 'u1' });
    const fourth = await oldest.create({ userId: 'u1', data: { device: 'laptop' } });
    expect(fourth.expired!.map((s) => s.id)).toEqual([first.session.id]);
    expect(fourth.expired![0].data).toEqual({ device: 'phone' });
    expect(fourth.expired![0].isExpired).toBe(true);
    expect(await oldest.authenticate(first.token)).toBeNull();
    expect(await oldest.count({ userId: 'u1' })).toBe(3);
    expect(expired.map((e) => e.session.id)).toEqual([first.session.id]);
    // Other users are not touched.
    await oldest.create({ userId: 'u2' });
    expect(await oldest.count({ userId: 'u1' })).toBe(3);
  });

  it('refuse: at the cap create throws SessionLimitError and creates nothing', async () => {
    for (let i = 0; i < 3; i++) await refuse.create({ userId: 'r1' });
    const error = await refuse.create({ userId: 'r1' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionLimitError);
    expect((error as SessionLimitError).max).toBe(3);
    expect(String(error)).toMatch(/kind "refuse".*3 valid sessions/);
    expect(await refuse.count({ userId: 'r1', status: 'all' })).toBe(3);
  });

  it('expired and deleted sessions free their slot', async () => {
    const made = [];
    for (let i = 0; i < 3; i++) made.push(await refuse.create({ userId: 'r2' }));
    await refuse.expire(made[0].session);
    await refuse.delete(made[1].session);
    await refuse.create({ userId: 'r2' });
    await refuse.create({ userId: 'r2' });
    await expect(refuse.create({ userId: 'r2' })).rejects.toThrow(SessionLimitError);
  });

  it('no user, no cap; another column can name the user', async () => {
    for (let i = 0; i < 5; i++) await refuse.create({});
    const byAccount = t.sessions('byAccount');
    const a = await byAccount.create({ accountId: 7 });
    const b = await byAccount.create({ accountId: 7 });
    expect(b.expired!.map((s) => s.id)).toEqual([a.session.id]);
  });

  it('20 concurrent logins of one user leave exactly max valid sessions (expireOldest)', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, () => oldest.create({ userId: 'burst' })));
    expect(results).toHaveLength(20);
    expect(await validCount(t, 'oldest', 'burst')).toBe(3);
    const expiredIds = new Set(results.flatMap((r) => r.expired!.map((s) => s.id)));
    expect(expiredIds.size).toBe(17);
  });

  it('20 concurrent logins of one user: exactly max succeed, the rest throw SessionLimitError (refuse)', async () => {
    const settled = await Promise.allSettled(Array.from({ length: 20 }, () => refuse.create({ userId: 'burst' })));
    expect(settled.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    const rejected = settled.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(rejected).toHaveLength(17);
    expect(rejected.every((r) => r.reason instanceof SessionLimitError)).toBe(true);
    expect(await validCount(t, 'refuse', 'burst')).toBe(3);
  });

  it('inside the caller transaction: the cap holds and the session is theirs to commit or roll back', async () => {
    const em = t.orm.em.fork();
    await em
      .transactional(async () => {
        await refuse.create({ userId: 'tx' });
        throw new Error('rolled back');
      })
      .catch(() => undefined);
    expect(await refuse.count({ userId: 'tx', status: 'all' })).toBe(0);
  });

  it('bad options fail at start-up, naming them', async () => {
    const { resolveSessionsOptions } = await import('../lib');
    expect(() => resolveSessionsOptions({ maxPerUser: { max: 0 } })).toThrow(/"maxPerUser.max" must be a whole number/);
    expect(() => resolveSessionsOptions({ maxPerUser: { max: 2, onLimit: 'drop' as never } })).toThrow(
      /"maxPerUser.onLimit"/,
    );
    expect(() => resolveSessionsOptions({ maxPerUser: { max: 2, column: 'accountId' } })).toThrow(
      /"maxPerUser.column" must name one of the kind's columns \(userId\)/,
    );
    expect(() => resolveSessionsOptions({ rotation: {} as never })).toThrow(/"rotation.grace" is required/);
    expect(() => resolveSessionsOptions({ rotation: { grace: '1m', every: 0 } })).toThrow(/"rotation.every"/);
    expect(() => resolveSessionsOptions({ trackLastUsed: 0 })).toThrow(/"trackLastUsed" must be a duration above 0/);
    expect(() => resolveSessionsOptions({ scopes: 'yes' as never })).toThrow(/"scopes" must be true or false/);
    expect(() => resolveSessionsOptions({ columns: { scopes: {} } })).toThrow(/clashes with a built-in/);
  });
});

// Instances with their own pools need a real server (PGlite serves one connection).
(onPglite() ? describe.skip : describe)('maxPerUser across instances (real PostgreSQL)', () => {
  const apps: TestApp[] = [];
  beforeAll(async () => {
    const kinds = [{ ttl: '1h', maxPerUser: { max: 2 } }];
    apps.push(await createTestApp({ kinds }));
    for (let i = 0; i < 3; i++) apps.push(await createTestApp({ kinds, recreate: false }));
  });
  afterAll(async () => {
    for (const app of apps) await app.close();
  });

  it('the session the cap expired on one instance is refused at once by another that cached it', async () => {
    const kinds = [{ tableName: 'capped_cached', ttl: '1h', maxPerUser: { max: 1 }, cache: true }];
    const a = await createTestApp({ kinds, recreate: false });
    const b = await createTestApp({ kinds, recreate: false });
    try {
      await a.orm.schema.updateSchema({ wrap: false, dropTables: false, safe: true });
      await until(() => a.sessions().cacheStatus.serving && b.sessions().cacheStatus.serving, 'both caches serve');
      const first = await a.sessions().create({ userId: 'cached' });
      expect(await b.sessions().authenticate(first.token)).not.toBeNull();
      b.log.clear();
      expect(await b.sessions().authenticate(first.token)).not.toBeNull();
      expect(b.log.matching(/"capped_cached"/)).toHaveLength(0); // served by b's cache
      const second = await a.sessions().create({ userId: 'cached' });
      expect(second.expired!.map((s) => s.id)).toEqual([first.session.id]);
      expect(await b.sessions().authenticate(first.token)).toBeNull();
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('20 concurrent logins of one user over 4 instances leave exactly max valid sessions', async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => apps[i % apps.length].sessions().create({ userId: 'spread' })),
    );
    expect(results).toHaveLength(20);
    expect(await validCount(apps[0], 'sessions', 'spread')).toBe(2);
  });
});

notePoolerSkipped('test/session-cap (PgBouncer part)');

(poolerRuns ? describe : describe.skip)('maxPerUser behind PgBouncer in transaction mode', () => {
  it('20 concurrent logins of one user over 2 pooled instances leave exactly max valid sessions', async () => {
    const clientUrl = throughPooler();
    const kinds = [{ ttl: '1h', maxPerUser: { max: 2 } }];
    const a = await createTestApp({ kinds, orm: { clientUrl } });
    const b = await createTestApp({ kinds, orm: { clientUrl }, recreate: false });
    try {
      await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).sessions().create({ userId: 'pooled' })));
      expect(await validCount(a, 'sessions', 'pooled')).toBe(2);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
