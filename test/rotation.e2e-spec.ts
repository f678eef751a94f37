import { Controller, Get } from '@nestjs/common';
import { Authenticated, CurrentSession, type Session, type SessionEvent, type SessionsService } from '../lib';
import { createTestApp, type TestApp } from './support/app';
import { withClockOffset } from './support/clock';
import { onPglite, sql } from './support/database';
import { call } from './support/http';
import { until } from './support/until';

@Controller()
class AccountController {
  @Authenticated()
  @Get('me')
  me(@CurrentSession() session: Session) {
    return { id: session.id };
  }
}

/** Moves a session's last rotation (or its login, when never rotated) back by `seconds`. */
async function age(t: TestApp, id: string, seconds: number): Promise<void> {
  await sql(
    t.orm,
    `UPDATE sessions SET rotated_at = rotated_at - make_interval(secs => ?), inserted_at = inserted_at - make_interval(secs => ?) WHERE id = ?`,
    [seconds, seconds, id],
  );
}

const cookieOf = (setCookies: string[]) =>
  setCookies.map((c) => /^auth_token=([^;]*)/.exec(c)?.[1]).find((v) => v !== undefined);

describe('rotation (rotate, grace, the guard reissuing with every)', () => {
  let t: TestApp;
  let s: SessionsService;
  const rotated: SessionEvent[] = [];
  beforeAll(async () => {
    t = await createTestApp({
      kinds: [
        {
          ttl: '1h',
          rotation: { grace: '30s', every: '10m' },
          tokenFrom: [
            { type: 'header', name: 'x-auth-token' },
            { type: 'cookie', name: 'auth_token' },
          ],
          onRotated: (event) => void rotated.push(event),
        },
        { name: 'plain' },
      ],
      controllers: [AccountController],
      listen: true,
    });
    s = t.sessions();
  });
  afterAll(() => t.close());
  beforeEach(() => (rotated.length = 0));

  it('adds previous_auth_token_digest (indexed) and rotated_at; a kind without rotation keeps the seed table', async () => {
    const columns = async (table: string) =>
      (
        await sql<{ column_name: string }>(
          t.orm,
          `SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY column_name`,
          [table],
        )
      ).map((r) => r.column_name);
    expect(await columns('sessions')).toEqual(
      expect.arrayContaining(['previous_auth_token_digest', 'rotated_at', 'auth_token_digest']),
    );
    expect(await columns('plain')).toEqual([
      'auth_token_digest',
      'data',
      'expires_at',
      'id',
      'inserted_at',
      'updated_at',
      'user_id',
    ]);
    const indexes = await sql<{ indexname: string }>(
      t.orm,
      `SELECT indexname FROM pg_indexes WHERE tablename = 'sessions'`,
    );
    expect(indexes.map((i) => i.indexname)).toContain('sessions_previous_auth_token_digest_index');
  });

  it('rotate(): a new token for the same row; the replaced one works inside its grace, one two rotations old never', async () => {
    const { session, token: t0 } = await s.create({ userId: 'r1', data: { device: 'laptop' } });
    const first = await s.rotate(session);
    expect(first).not.toBeNull();
    const t1 = first!.token;
    expect(t1).not.toBe(t0);
    expect(first!.session).toMatchObject({ id: session.id, userId: 'r1', data: { device: 'laptop' } });
    expect(first!.session.insertedAt.getTime()).toBe(session.insertedAt.getTime()); // the login is kept
    expect(first!.session.rotatedAt).toBeInstanceOf(Date);
    expect(first!.session).not.toHaveProperty('previousAuthTokenDigest');
    expect(JSON.stringify(first!.session)).not.toMatch(/previous/i);
    expect((await s.authenticate(t1))?.id).toBe(session.id);
    expect((await s.authenticate(t0))?.id).toBe(session.id); // inside the grace
    const second = await s.rotate(session.id);
    expect((await s.authenticate(second!.token))?.id).toBe(session.id);
    expect((await s.authenticate(t1))?.id).toBe(session.id);
    expect(await s.authenticate(t0)).toBeNull(); // two rotations old
    expect(rotated.map((e) => e.session.id)).toEqual([session.id, session.id]);
  });

  it('the replaced token stops at the end of its grace, by the database clock, whatever this instance says', async () => {
    const { session, token: t0 } = await s.create({ userId: 'r2' });
    const { token: t1 } = (await s.rotate(session))!;
    await sql(t.orm, `UPDATE sessions SET rotated_at = rotated_at - interval '31 seconds' WHERE id = ?`, [session.id]);
    expect(await withClockOffset(-60_000, () => s.authenticate(t0))).toBeNull();
    expect((await s.authenticate(t1))?.id).toBe(session.id);
  });

  it('rotate() of an expired, deleted or unknown session gives null; a kind without rotation says so', async () => {
    const { session } = await s.create({ userId: 'r3' });
    await s.expire(session);
    expect(await s.rotate(session)).toBeNull();
    const gone = await s.create({ userId: 'r3' });
    await s.delete(gone.session);
    expect(await s.rotate(gone.session.id)).toBeNull();
    expect(await s.rotate('not-a-uuid')).toBeNull();
    await expect(t.sessions('plain').rotate('00000000-0000-0000-0000-000000000000')).rejects.toThrow(
      /kind "plain" has no rotation/,
    );
    await expect(s.rotate(42 as never)).rejects.toThrow(/expected a session or its id/);
  });

  it('every: the guard reissues a cookie token older than every and sends the new cookie; a fresh one it leaves', async () => {
    const { session, token } = await s.create({ userId: 'r4' });
    const fresh = await call(`${t.url}/me`, { headers: { cookie: `auth_token=${token}` } });
    expect(fresh.status).toBe(200);
    expect(cookieOf(fresh.setCookies)).toBeUndefined();
    await age(t, session.id, 11 * 60);
    const due = await call(`${t.url}/me`, { headers: { cookie: `auth_token=${token}` } });
    expect(due.status).toBe(200);
    const next = cookieOf(due.setCookies);
    expect(next).toBeDefined();
    expect(next).not.toBe(token);
    expect(due.setCookies.join()).toMatch(/HttpOnly/);
    expect(rotated).toHaveLength(1);
    // The new cookie works, and so does the old one inside its grace, without being rotated again.
    const withNew = await call(`${t.url}/me`, { headers: { cookie: `auth_token=${next}` } });
    expect(withNew.status).toBe(200);
    expect(cookieOf(withNew.setCookies)).toBeUndefined();
    const withOld = await call(`${t.url}/me`, { headers: { cookie: `auth_token=${token}` } });
    expect(withOld.status).toBe(200);
    expect(cookieOf(withOld.setCookies)).toBeUndefined();
    expect(rotated).toHaveLength(1);
    expect((await s.authenticate(next!))?.id).toBe(session.id);
  });

  it('every: a header token is never reissued (the client could not learn the new one)', async () => {
    const { session, token } = await s.create({ userId: 'r5' });
    await age(t, session.id, 3600);
    const response = await call(`${t.url}/me`, { headers: { 'x-auth-token': token } });
    expect(response.status).toBe(200);
    expect(response.setCookies).toEqual([]);
    expect(rotated).toHaveLength(0);
    expect((await s.authenticate(token))?.id).toBe(session.id);
  });

  it('every: 20 concurrent requests with the same due cookie rotate it once, and all succeed', async () => {
    const { session, token } = await s.create({ userId: 'r6' });
    await age(t, session.id, 11 * 60);
    const responses = await Promise.all(
      Array.from({ length: 20 }, () => call(`${t.url}/me`, { headers: { cookie: `auth_token=${token}` } })),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(200));
    const issued = responses.map((r) => cookieOf(r.setCookies)).filter(Boolean);
    expect(issued).toHaveLength(1);
    expect(rotated).toHaveLength(1);
    expect((await s.authenticate(issued[0]!))?.id).toBe(session.id);
    expect((await s.authenticate(token))?.id).toBe(session.id); // the replaced one, inside its grace
    const [row] = await sql<{ rotations: number }>(
      t.orm,
      `SELECT count(*)::int AS rotations FROM sessions WHERE id = ? AND rotated_at IS NOT NULL`,
      [session.id],
    );
    expect(row.rotations).toBe(1);
  });

  it('the lookup of a replaced token can use the index on previous_auth_token_digest', async () => {
    const conn = t.orm.em.getConnection();
    await conn.transactional(async (trx) => {
      await conn.execute('SET LOCAL enable_seqscan = off', [], 'run', trx);
      const plan = await conn.execute(
        `EXPLAIN SELECT id FROM sessions WHERE (auth_token_digest = 'x' OR (previous_auth_token_digest = 'x' AND rotated_at > now())) LIMIT 1`,
        [],
        'all',
        trx,
      );
      expect(JSON.stringify(plan)).toContain('sessions_previous_auth_token_digest_index');
    });
  });
});

// Two instances, each with its cache, need notices between two connections: a real server.
(onPglite() ? describe.skip : describe)('rotation with the cache, on two instances (real PostgreSQL)', () => {
  let a: TestApp;
  let b: TestApp;
  beforeAll(async () => {
    const kinds = [{ ttl: '1h', cache: true, rotation: { grace: '30s' } }];
    a = await createTestApp({ kinds });
    b = await createTestApp({ kinds, recreate: false });
    await until(() => a.sessions().cacheStatus.serving && b.sessions().cacheStatus.serving, 'both caches serve');
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  it('a rotation on A reaches B: the token two rotations old is refused at once, the replaced one only inside its grace', async () => {
    const sa = a.sessions();
    const sb = b.sessions();
    const { session, token: t0 } = await sa.create({ userId: 'c1' });
    expect(await sb.authenticate(t0)).not.toBeNull(); // B caches it
    expect(await sb.authenticate(t0)).not.toBeNull();
    const { token: t1 } = (await sa.rotate(session))!;
    expect(await sb.authenticate(t1)).not.toBeNull();
    expect(await sb.authenticate(t0)).not.toBeNull(); // inside its grace, read from the database
    await sa.rotate(session);
    expect(await sb.authenticate(t0)).toBeNull();
    // The grace ends: B, which served t1 as current before, refuses it once it is past.
    await sql(a.orm, `UPDATE sessions SET rotated_at = rotated_at - interval '31 seconds' WHERE id = ?`, [session.id]);
    expect(await sb.authenticate(t1)).toBeNull();
  });
});

describe('token filters with rotation', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ kinds: [{ ttl: '1h', rotation: { grace: '30s' } }] });
  });
  afterAll(() => t.close());

  it('findOne, count and deleteAll by a replaced token inside its grace find its session: a logout with it is not lost', async () => {
    const s = t.sessions();
    const { session, token: t0 } = await s.create({ userId: 'f1' });
    const { token: t1 } = (await s.rotate(session))!;
    expect((await s.findOne({ token: t0 }))?.id).toBe(session.id);
    expect((await s.findOne({ token: t1 }))?.id).toBe(session.id);
    expect(await s.count({ token: t0 })).toBe(1);
    expect(await s.deleteAll({ token: t0 })).toBe(1);
    expect(await s.authenticate(t1)).toBeNull();
  });

  it('a token two rotations old, or past its grace, matches nothing', async () => {
    const s = t.sessions();
    const { session, token: t0 } = await s.create({ userId: 'f2' });
    const { token: t1 } = (await s.rotate(session))!;
    await s.rotate(session);
    expect(await s.findOne({ token: t0 })).toBeNull();
    expect(await s.deleteAll({ token: t0 })).toBe(0);
    await sql(t.orm, `UPDATE sessions SET rotated_at = rotated_at - interval '31 seconds' WHERE id = ?`, [session.id]);
    expect(await s.count({ token: t1, status: 'all' })).toBe(0);
    expect(await s.findOne({ token: 'short' })).toBeNull();
  });
});

// The cache serves only once its listener hears notices: a real server.
(onPglite() ? describe.skip : describe)('rotation every with the cache (real PostgreSQL)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({
      kinds: [
        {
          ttl: '1h',
          cache: true,
          rotation: { grace: '30s', every: '10m' },
          tokenFrom: [
            { type: 'header', name: 'x-auth-token' },
            { type: 'cookie', name: 'auth_token' },
          ],
        },
      ],
      controllers: [AccountController],
      listen: true,
    });
    await until(() => t.sessions().cacheStatus.serving, 'the cache serves');
  });
  afterAll(() => t.close());

  // (That the header token takes the guard's synchronous path is checked in lib/http/authenticated.guard.spec.ts.)
  it('a header token past every is served from the cache and never reissued; a cookie one is reissued', async () => {
    const { session, token } = await t.sessions().create({ userId: 'cached-every' });
    await age(t, session.id, 11 * 60);
    const viaHeader = () => call(`${t.url}/me`, { headers: { 'x-auth-token': token } });
    expect((await viaHeader()).status).toBe(200); // looked up, then cached
    t.log.clear();
    const again = await viaHeader();
    expect(again.status).toBe(200);
    expect(again.setCookies).toEqual([]);
    expect(t.log.matching(/"sessions"/)).toHaveLength(0); // served by the cache
    const viaCookie = await call(`${t.url}/me`, { headers: { cookie: `auth_token=${token}` } });
    expect(viaCookie.status).toBe(200);
    expect(cookieOf(viaCookie.setCookies)).toBeDefined();
  });
});
