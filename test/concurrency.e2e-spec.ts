import type { Session } from '../lib';
import { createTestApp, type TestApp } from './support/app';
import { onPglite, sql } from './support/database';

/** A small deterministic PRNG, so a failure can be replayed. */
function prng(seed: number) {
  return () => {
    seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
}

describe(`500 concurrent operations on a few sessions (${onPglite() ? 'PGlite' : 'PostgreSQL'})`, () => {
  let t: TestApp;
  beforeAll(async () => {
    // extendThreshold 0: every authentication races to extend.
    t = await createTestApp({ kinds: [{ ttl: '1h', extendThreshold: 0 }] });
  });
  afterAll(() => t.close());

  it('no deadlock, no lost data update, a deleted session never comes back, counts stay consistent', async () => {
    const sessions = t.sessions();
    const created = await Promise.all(
      Array.from({ length: 5 }, (_, i) => sessions.create({ userId: 'c', data: { seed: i } })),
    );
    const [k0, k1, k2, doomed, ending] = created;
    const keepers = [k0, k1, k2];
    const random = prng(42);
    const merged = new Map<string, Record<string, number>>(
      keepers.map((k) => [k.session.id, { seed: keepers.indexOf(k) }]),
    );
    const ops: Array<() => Promise<unknown>> = [];
    for (let i = 0; i < 500; i++) {
      const r = random();
      const target = i % 7 === 0 ? doomed : i % 11 === 0 ? ending : keepers[Math.floor(random() * 3)];
      if (i === 250) ops.push(() => sessions.delete(doomed.session));
      else if (i === 300) ops.push(() => sessions.expire(ending.session));
      else if (r < 0.45) ops.push(() => sessions.authenticate(target.token));
      else if (r < 0.6 && target !== ending) ops.push(() => sessions.extend(target.session as Session));
      else if (r < 0.9 && keepers.includes(target)) {
        merged.get(target.session.id)![`k${i}`] = i;
        ops.push(() => sessions.update(target.session, { data: { [`k${i}`]: i } }, { merge: true }));
      } else ops.push(() => sessions.findOne({ id: target.session.id, status: 'all' }));
    }
    const outcomes = await Promise.allSettled(ops.map((op) => op()));
    const errors = outcomes
      .filter((o): o is PromiseRejectedResult => o.status === 'rejected')
      .map((o) => String(o.reason));
    expect(errors).toEqual([]);

    // no lost update: every merged key is there, on every keeper
    for (const keeper of keepers) {
      const row = await sessions.findOne({ id: keeper.session.id });
      expect(row!.data).toEqual(merged.get(keeper.session.id));
      expect(await sessions.authenticate(keeper.token)).not.toBeNull();
    }
    // the deleted session never comes back, whatever extensions raced with the delete
    expect(await sessions.findOne({ id: doomed.session.id, status: 'all' })).toBeNull();
    expect(await sessions.authenticate(doomed.token)).toBeNull();
    await sessions.extend(doomed.session as Session);
    expect(await sessions.count({ id: doomed.session.id, status: 'all' })).toBe(0);
    // the expired one stays expired: authentication cannot revive it
    expect(await sessions.authenticate(ending.token)).toBeNull();
    // counts agree with each other and with the table
    const [valid, expired, all] = await Promise.all([
      sessions.count({ userId: 'c' }),
      sessions.count({ userId: 'c', status: 'expired' }),
      sessions.count({ userId: 'c', status: 'all' }),
    ]);
    expect([valid, expired, all]).toEqual([3, 1, 4]);
    const [{ n }] = await sql<{ n: string }>(t.orm, "SELECT count(*) AS n FROM sessions WHERE user_id = 'c'");
    expect(Number(n)).toBe(4);
  });
});
