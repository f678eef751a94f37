import { createTestApp, type TestApp } from './support/app';
import { sql } from './support/database';
import { digestsOf } from './support/digests';

const HOUR = 3600;
const DAY = 24 * HOUR;

async function expireIn(t: TestApp, table: string, id: string, seconds: number) {
  await sql(t.orm, `UPDATE ${table} SET expires_at = ? WHERE id = ?`, [
    new Date(Date.now() + seconds * 1000).toISOString(),
    id,
  ]);
}
async function insertedAgo(t: TestApp, table: string, id: string, seconds: number) {
  await sql(t.orm, `UPDATE ${table} SET inserted_at = ? WHERE id = ?`, [
    new Date(Date.now() - seconds * 1000).toISOString(),
    id,
  ]);
}

describe('expiry policies', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({
      kinds: [
        { name: 'every', ttl: '1h', extendThreshold: 0 },
        { name: 'never', ttl: '1h', extendThreshold: null },
        { name: 'manual', ttl: '1h', extendOnUse: false },
        { name: 'forever', ttl: null },
        { name: 'capped', ttl: '1d', absoluteTtl: '3d', extendThreshold: 0 },
        { name: 'capOnly', ttl: null, absoluteTtl: '2h' },
        { name: 'rotated', secret: ['new-secret', 'old-secret'] },
        { name: 'peppered', secret: 'old-secret' },
        { name: 'plain', hashAlgorithm: null },
      ],
    });
  });
  afterAll(() => t.close());
  beforeEach(() => t.log.clear());

  it('extendThreshold 0 extends on every use', async () => {
    const s = t.sessions('every');
    const { session, token } = await s.create({});
    await new Promise((r) => setTimeout(r, 5));
    t.log.clear();
    const a = await s.authenticate(token);
    expect(a!.expiresAt!.getTime()).toBeGreaterThan(session.expiresAt!.getTime());
    expect(t.log.matching(/^update/i)).toHaveLength(1);
  });

  it('extendThreshold null never extends, even with { extend: true }', async () => {
    const s = t.sessions('never');
    const { session, token } = await s.create({});
    await expireIn(t, 'never', session.id, 60);
    t.log.clear();
    await s.authenticate(token);
    await s.authenticate(token, { extend: true });
    expect(t.log.matching(/^update/i)).toHaveLength(0);
  });

  it('extendOnUse false: no extension unless the call asks for one', async () => {
    const s = t.sessions('manual');
    const { session, token } = await s.create({});
    await expireIn(t, 'manual', session.id, 60);
    t.log.clear();
    expect((await s.authenticate(token))!.expiresAt!.getTime()).toBeLessThan(Date.now() + 120_000);
    expect(t.log.matching(/^update/i)).toHaveLength(0);
    expect((await s.authenticate(token, { extend: true }))!.expiresAt!.getTime()).toBeGreaterThan(
      Date.now() + 3500_000,
    );
    expect(t.log.matching(/^update/i)).toHaveLength(1);
  });

  it('ttl null: never expires, never written on use', async () => {
    const s = t.sessions('forever');
    const { session, token } = await s.create({});
    expect(session.expiresAt).toBeNull();
    expect(session.isExpired).toBe(false);
    t.log.clear();
    expect(await s.authenticate(token)).not.toBeNull();
    expect(t.log.statements).toHaveLength(1);
    expect(await s.count({ status: 'valid' })).toBe(1);
    expect(await s.count({ status: 'expired' })).toBe(0);
    expect((await s.expire(session))!.isExpired).toBe(true);
    expect(await s.authenticate(token)).toBeNull();
  });

  it('absoluteTtl caps the sliding expiry and ends the session whatever the sliding did', async () => {
    const s = t.sessions('capped');
    const { session, token } = await s.create({});
    await insertedAgo(t, 'capped', session.id, 2.5 * DAY);
    await expireIn(t, 'capped', session.id, HOUR);
    const extended = await s.authenticate(token);
    const cap = Date.now() + 0.5 * DAY * 1000;
    expect(Math.abs(extended!.expiresAt!.getTime() - cap)).toBeLessThan(5000); // not now + 1d
    // Past the cap the session is refused even if its row says otherwise.
    await insertedAgo(t, 'capped', session.id, 3 * DAY + 1);
    await expireIn(t, 'capped', session.id, DAY);
    expect(await s.authenticate(token)).toBeNull();
    expect(await s.count({ status: 'expired' })).toBe(1);
    expect(await s.count({ status: 'valid' })).toBe(0);
    // extend() cannot revive it past the cap either.
    const row = (await s.findOne({ id: session.id, status: 'all' }))!;
    await s.extend(row);
    expect(await s.authenticate(token)).toBeNull();
  });

  it('absoluteTtl with ttl null gives a fixed lifetime', async () => {
    const s = t.sessions('capOnly');
    const { session } = await s.create({});
    expect(session.expiresAt!.getTime() - session.insertedAt.getTime()).toBe(2 * HOUR * 1000);
  });

  it('secret rotation: new tokens use the first secret; tokens of any listed secret authenticate in one query', async () => {
    const old = await t.sessions('peppered').create({});
    // Move the old-secret row into the rotated kind's table, as after a config change.
    await sql(t.orm, 'INSERT INTO rotated SELECT * FROM peppered WHERE id = ?', [old.session.id]);
    const rotated = t.sessions('rotated');
    const fresh = await rotated.create({});
    const [row] = await sql<{ auth_token_digest: string }>(
      t.orm,
      'SELECT auth_token_digest FROM rotated WHERE id = ?',
      [fresh.session.id],
    );
    expect(row.auth_token_digest).toBe(digestsOf(rotated, fresh.token)[0]);
    t.log.clear();
    expect((await rotated.authenticate(old.token))?.id).toBe(old.session.id);
    expect((await rotated.authenticate(fresh.token))?.id).toBe(fresh.session.id);
    expect(t.log.statements).toHaveLength(2);
    expect(t.log.statements[0]).toMatch(/"auth_token_digest" in \(\$1, \$2\)/i);
    expect(await t.sessions('peppered').authenticate(fresh.token)).toBeNull();
  });

  it('hashAlgorithm null stores the token as is (the seed allows it)', async () => {
    const s = t.sessions('plain');
    const { session, token } = await s.create({});
    const [row] = await sql<{ auth_token_digest: string }>(t.orm, 'SELECT auth_token_digest FROM plain WHERE id = ?', [
      session.id,
    ]);
    expect(row.auth_token_digest).toBe(token);
    expect((await s.authenticate(token))?.id).toBe(session.id);
  });
});
