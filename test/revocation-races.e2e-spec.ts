import type { SessionsService } from '../lib';
import { createTestApp, type TestApp } from './support/app';
import { withClockOffset } from './support/clock';
import { onPglite, sql } from './support/database';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The row's expiry as the database sees it, and whether it is past by the database's clock. */
async function stored(t: TestApp, id: string): Promise<{ expiresAt: Date; pastByDatabase: boolean }> {
  const [row] = await sql<{ expires_at: Date; past: boolean }>(
    t.orm,
    'SELECT expires_at, expires_at <= clock_timestamp() AS past FROM sessions WHERE id = ?',
    [id],
  );
  return { expiresAt: new Date(row.expires_at), pastByDatabase: row.past };
}

// Two instances, each with its own pool, need two server connections at once:
// embedded PGlite serves one connection at a time, so these run on a real server.
(onPglite() ? describe.skip : describe)('an expired session is never made valid again (real PostgreSQL)', () => {
  let a: TestApp;
  let b: TestApp;
  let sa: SessionsService;
  let sb: SessionsService;

  beforeAll(async () => {
    // extendThreshold 0: every authentication wants to slide the expiry.
    const kinds = [{ ttl: '1h', extendThreshold: 0 }];
    a = await createTestApp({ kinds });
    b = await createTestApp({ kinds, recreate: false, orm: { pool: { min: 0, max: 1 } } });
    sa = a.sessions();
    sb = b.sessions();
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  it.each([1, 2, 3])(
    'trial %i: a request queued for a pooled connection before expire() does not revive the session',
    async () => {
      const { session, token } = await sa.create({ userId: 'race' });
      // B's only connection is busy: its authentication waits for it, holding a `now` from before.
      const busy = sql(b.orm, 'SELECT pg_sleep(1.5)');
      await sleep(100);
      const inFlight = sb.authenticate(token);
      await sleep(1100);
      await sa.expire(session.id);
      await Promise.all([busy, inFlight]);
      expect(await sa.authenticate(token)).toBeNull();
      expect(await sb.authenticate(token)).toBeNull();
      const row = await stored(a, session.id);
      expect(row.pastByDatabase).toBe(true);
      expect(row.expiresAt.getTime()).toBeLessThan(Date.now() + 60_000); // not a ttl ahead
    },
  );

  it.each([
    ['the expiring instance runs 2 s ahead', 2000, 0],
    ['the expiring instance runs 2 s behind', -2000, 0],
    ['the authenticating instance runs 2 s behind', 0, -2000],
    ['the authenticating instance runs 2 s ahead', 0, 2000],
  ])('clocks apart (%s): after expire(), no instance honours or revives the session', async (_, skewA, skewB) => {
    const userId = `skew${skewA}${skewB}`;
    const { session, token } = await sa.create({ userId });
    await withClockOffset(skewA, () => sa.expire(session.id));
    expect(await withClockOffset(skewB, () => sb.authenticate(token))).toBeNull();
    expect(await withClockOffset(skewA, () => sa.authenticate(token))).toBeNull();
    expect(await withClockOffset(skewB, () => sb.findOne({ id: session.id }))).toBeNull();
    expect(await withClockOffset(skewB, () => sb.count({ userId }))).toBe(0);
    expect((await stored(a, session.id)).pastByDatabase).toBe(true);
  });

  it('clocks apart: a sliding extension racing expire() never outlives it', async () => {
    const { session, token } = await sa.create({ userId: 'skew-race' });
    const found = await sb.authenticate(token, { extend: false });
    expect(found).not.toBeNull();
    await withClockOffset(2000, () => sa.expire(session.id));
    // The slow instance's extension arrives after the expiry, with a clock 2 s behind.
    expect(await withClockOffset(-2000, () => sb.authenticate(token))).toBeNull();
    expect((await stored(a, session.id)).pastByDatabase).toBe(true);
  });

  it('an explicit extend() still brings an expired session back', async () => {
    const { session, token } = await sa.create({ userId: 'revive' });
    const expired = await sa.expire(session.id);
    expect(await sb.authenticate(token)).toBeNull();
    await sa.extend(expired!);
    expect(await sb.authenticate(token)).not.toBeNull();
  });
});
