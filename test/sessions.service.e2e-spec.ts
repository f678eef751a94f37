import { randomUUID } from 'node:crypto';
import { Session, type SessionsService } from '../lib';
import { sql } from './support/database';
import { createTestApp, type TestApp } from './support/app';
import { digestsOf } from './support/digests';

const HOUR = 3600;
const DAY = 24 * HOUR;

/** Moves a session's expiry (and creation time) to the given offsets from now, in seconds. */
async function setTimes(t: TestApp, id: string, times: { expiresIn?: number | null; insertedAgo?: number }) {
  const now = Date.now();
  if (times.expiresIn !== undefined) {
    const value = times.expiresIn === null ? null : new Date(now + times.expiresIn * 1000).toISOString();
    await sql(t.orm, 'UPDATE sessions SET expires_at = ? WHERE id = ?', [value, id]);
  }
  if (times.insertedAgo !== undefined) {
    await sql(t.orm, 'UPDATE sessions SET inserted_at = ? WHERE id = ?', [
      new Date(now - times.insertedAgo * 1000).toISOString(),
      id,
    ]);
  }
}

describe('SessionsService', () => {
  let t: TestApp;
  let sessions: SessionsService;

  beforeAll(async () => {
    t = await createTestApp({ kinds: [{ ttl: '7d', extendThreshold: '1d' }] });
    sessions = t.sessions();
  });
  afterAll(() => t.close());
  beforeEach(async () => {
    await sql(t.orm, 'DELETE FROM sessions');
    t.log.clear();
  });

  describe('create', () => {
    it('returns the session and the only plaintext copy of its token; stores the digest', async () => {
      const before = Date.now();
      const { session, token } = await sessions.create({ userId: 'u1', data: { userAgent: 'jest', ip: '::1' } });
      expect(t.log.statements).toHaveLength(1);
      expect(token).toMatch(/^[A-Za-z0-9_-]{64}$/);
      expect(session).toBeInstanceOf(Session);
      expect(session.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(session.userId).toBe('u1');
      expect(session.data).toEqual({ userAgent: 'jest', ip: '::1' });
      expect(session.insertedAt.getTime()).toBeGreaterThanOrEqual(before - 1);
      expect(session.expiresAt!.getTime() - session.insertedAt.getTime()).toBe(7 * DAY * 1000);
      const [row] = await sql<Record<string, string>>(t.orm, 'SELECT * FROM sessions');
      expect(row.auth_token_digest).toBe(digestsOf(sessions, token)[0]);
      expect(JSON.stringify(row)).not.toContain(token);
    });

    it('keeps the digest out of JSON and computes isExpired', async () => {
      const { session } = await sessions.create({ userId: 'u1' });
      const json = JSON.parse(JSON.stringify(session));
      expect(json).not.toHaveProperty('authTokenDigest');
      expect(JSON.stringify(session)).not.toContain(session.authTokenDigest);
      expect(json).toMatchObject({ id: session.id, userId: 'u1', isExpired: false, data: {} });
      expect({ ...session }).not.toHaveProperty('authTokenDigest');
    });

    it('refuses unknown attributes and non-object data', async () => {
      await expect(sessions.create({ nope: 1 } as never)).rejects.toThrow(/unknown attribute "nope"/);
      await expect(sessions.create({ data: [] as never })).rejects.toThrow(/data must be a JSON object/);
      await expect(sessions.create('x' as never)).rejects.toThrow(/must be a plain object/);
    });
  });

  describe('authenticate', () => {
    it('finds a valid session in exactly one statement', async () => {
      const { session, token } = await sessions.create({ userId: 'u1' });
      t.log.clear();
      const found = await sessions.authenticate(token);
      expect(found?.id).toBe(session.id);
      expect(found).toBeInstanceOf(Session);
      expect(t.log.statements).toHaveLength(1);
      expect(t.log.statements[0]).toMatch(/^select .* from "sessions" where "auth_token_digest" = /i);
    });

    it('returns null for unknown, expired and malformed tokens; malformed ones cost no statement', async () => {
      const { session, token } = await sessions.create({ userId: 'u1' });
      t.log.clear();
      for (const bad of ['', 'short', token + 'x', token.slice(1) + '!', 42, null, undefined, { token }, [token]]) {
        expect(await sessions.authenticate(bad)).toBeNull();
      }
      expect(t.log.statements).toHaveLength(0);
      expect(await sessions.authenticate(token.slice(1) + (token[0] === 'A' ? 'B' : 'A'))).toBeNull();
      await setTimes(t, session.id, { expiresIn: -1 });
      expect(await sessions.authenticate(token)).toBeNull();
    });
  });

  describe('sliding expiration', () => {
    it('does not write while the expiry would move by less than the threshold', async () => {
      const { token } = await sessions.create({ userId: 'u1' });
      t.log.clear();
      await sessions.authenticate(token);
      await sessions.authenticate(token);
      expect(t.log.matching(/^update/i)).toHaveLength(0);
    });

    it('extends with one conditional UPDATE of expires_at/updated_at once past the threshold', async () => {
      const { session, token } = await sessions.create({ userId: 'u1', data: { a: 1 } });
      await setTimes(t, session.id, { expiresIn: 5 * DAY });
      t.log.clear();
      const found = await sessions.authenticate(token);
      expect(found!.expiresAt!.getTime()).toBeGreaterThan(Date.now() + 7 * DAY * 1000 - 5000);
      const updates = t.log.matching(/^update/i);
      expect(updates).toHaveLength(1);
      expect(updates[0]).toMatch(/set "expires_at" = .*, "updated_at" = .* where "id" = .* and "expires_at" < /i);
      expect(updates[0]).not.toMatch(/"data"/);
      expect(t.log.statements).toHaveLength(2);
      const [row] = await sql<{ expires_at: string }>(t.orm, 'SELECT expires_at FROM sessions WHERE id = ?', [
        session.id,
      ]);
      expect(new Date(row.expires_at.replace(' ', 'T').replace(/\+00$/, 'Z')).getTime()).toBe(
        found!.expiresAt!.getTime(),
      );
    });

    it('edges: just inside the threshold does not extend; just outside does', async () => {
      const inside = await sessions.create({ userId: 'u1' });
      const outside = await sessions.create({ userId: 'u1' });
      // new expiry - current = 1 day - 60 s (inside) / 1 day + 60 s (outside)
      await setTimes(t, inside.session.id, { expiresIn: 6 * DAY + 60 });
      await setTimes(t, outside.session.id, { expiresIn: 6 * DAY - 60 });
      t.log.clear();
      await sessions.authenticate(inside.token);
      expect(t.log.matching(/^update/i)).toHaveLength(0);
      await sessions.authenticate(outside.token);
      expect(t.log.matching(/^update/i)).toHaveLength(1);
    });

    it('per-call { extend: false } and { extend: true } override extendOnUse', async () => {
      const { session, token } = await sessions.create({ userId: 'u1' });
      await setTimes(t, session.id, { expiresIn: HOUR });
      t.log.clear();
      const kept = await sessions.authenticate(token, { extend: false });
      expect(kept!.expiresAt!.getTime()).toBeLessThan(Date.now() + 2 * HOUR * 1000);
      expect(t.log.matching(/^update/i)).toHaveLength(0);
    });

    it('50 parallel authentications past the threshold send one UPDATE and all succeed', async () => {
      const { session, token } = await sessions.create({ userId: 'u1' });
      await setTimes(t, session.id, { expiresIn: HOUR });
      t.log.clear();
      const results = await Promise.all(Array.from({ length: 50 }, () => sessions.authenticate(token)));
      expect(results.every((s) => s?.id === session.id)).toBe(true);
      expect(t.log.matching(/^update/i)).toHaveLength(1);
      for (const s of results) expect(s!.expiresAt!.getTime()).toBeGreaterThan(Date.now() + 6 * DAY * 1000);
    });

    it('a failed sliding extension keeps the session valid (no refusal, no 503)', async () => {
      const { session, token } = await sessions.create({ userId: 'u1' });
      await setTimes(t, session.id, { expiresIn: HOUR });
      const runner = (sessions as unknown as { parts: { runner: { request(s: { sql: string }): Promise<never[]> } } })
        .parts.runner;
      const request = runner.request.bind(runner);
      const spy = jest
        .spyOn(runner, 'request')
        .mockImplementation((statement: { sql: string }) =>
          /^UPDATE/.test(statement.sql) ? Promise.reject(new Error('connection lost')) : request(statement),
        );
      try {
        const found = await sessions.authenticate(token);
        expect(found?.id).toBe(session.id);
        expect(found!.expiresAt!.getTime()).toBeLessThan(Date.now() + 2 * HOUR * 1000);
        await expect(sessions.extend(found!)).rejects.toThrow('connection lost'); // asked for: reported
      } finally {
        spy.mockRestore();
      }
      // nothing was memoised: the next use extends for real
      t.log.clear();
      expect((await sessions.authenticate(token))!.expiresAt!.getTime()).toBeGreaterThan(Date.now() + 6 * DAY * 1000);
    });

    it('an extension never brings back a deleted session nor overwrites data', async () => {
      const { session, token } = await sessions.create({ userId: 'u1', data: { v: 1 } });
      await setTimes(t, session.id, { expiresIn: HOUR });
      const found = await sessions.authenticate(token, { extend: false });
      await sessions.update(found!, { data: { v: 2 } });
      await sessions.extend(found!);
      expect((await sessions.findOne({ id: session.id }))!.data).toEqual({ v: 2 });
      await sessions.delete(session.id);
      await sessions.extend(found!);
      expect(await sessions.count({ status: 'all' })).toBe(0);
    });

    it('extend() moves the expiry whatever the threshold, and revives an expired session', async () => {
      const { session, token } = await sessions.create({ userId: 'u1' });
      await setTimes(t, session.id, { expiresIn: -HOUR });
      const expired = await sessions.findOne({ id: session.id, status: 'expired' });
      expect(expired!.isExpired).toBe(true);
      const extended = await sessions.extend(expired!);
      expect(extended.isExpired).toBe(false);
      expect(await sessions.authenticate(token)).not.toBeNull();
    });
  });

  describe('findOne, list and count', () => {
    it('filter by id, token, userId and status', async () => {
      const a = await sessions.create({ userId: 'alice' });
      const b = await sessions.create({ userId: 'alice' });
      const c = await sessions.create({ userId: 'bob' });
      await setTimes(t, b.session.id, { expiresIn: -1 });

      expect((await sessions.findOne({ id: a.session.id }))?.id).toBe(a.session.id);
      expect(await sessions.findOne({ id: b.session.id })).toBeNull();
      expect((await sessions.findOne({ id: b.session.id, status: 'expired' }))?.id).toBe(b.session.id);
      expect((await sessions.findOne({ token: c.token }))?.userId).toBe('bob');
      expect(await sessions.findOne({ token: 'nope' })).toBeNull();
      expect(await sessions.findOne({ id: 'not-a-uuid' })).toBeNull();
      expect(await sessions.findOne({ id: randomUUID() })).toBeNull();

      expect(await sessions.count({ userId: 'alice' })).toBe(1);
      expect(await sessions.count({ userId: 'alice', status: 'expired' })).toBe(1);
      expect(await sessions.count({ userId: 'alice', status: 'all' })).toBe(2);
      expect(await sessions.count()).toBe(2);
      expect(await sessions.count({ status: 'all' })).toBe(3);
      expect((await sessions.list({ userId: 'alice', status: 'all' })).map((s) => s.id).sort()).toEqual(
        [a.session.id, b.session.id].sort(),
      );
    });

    it('lists newest first, with limit and offset', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const { session } = await sessions.create({ userId: 'u' });
        await setTimes(t, session.id, { insertedAgo: 100 - i });
        ids.push(session.id);
      }
      const newestFirst = [...ids].reverse();
      expect((await sessions.list({ userId: 'u' })).map((s) => s.id)).toEqual(newestFirst);
      expect((await sessions.list({ userId: 'u' }, { limit: 2, offset: 1 })).map((s) => s.id)).toEqual(
        newestFirst.slice(1, 3),
      );
      expect((await sessions.list({ userId: 'u' }, { orderBy: { insertedAt: 'asc' } })).map((s) => s.id)).toEqual(ids);
    });

    it('refuses filters that would widen the query or are not columns', async () => {
      await sessions.create({ userId: 'u' });
      await expect(sessions.list({ userId: undefined })).rejects.toThrow(/filter "userId"/);
      await expect(sessions.list({ userId: { $ne: 'x' } as never })).rejects.toThrow(/filter "userId"/);
      await expect(sessions.list({ userId: ['u'] as never })).rejects.toThrow(/filter "userId"/);
      await expect(sessions.count({ nope: 'x' })).rejects.toThrow(/unknown property "nope"/);
      await expect(sessions.count({ status: 'active' as never })).rejects.toThrow(/status must be/);
      await expect(sessions.list({ data: 'x' } as never)).rejects.toThrow(/cannot filter on "data"/);
      await expect(sessions.list(null as never)).rejects.toThrow(/filters must be a plain object/);
      await expect(sessions.list({}, { limit: 0 })).rejects.toThrow(/limit/);
      await expect(sessions.list({}, { orderBy: { nope: 'asc' } })).rejects.toThrow(/unknown property/);
      await expect(sessions.list({}, { orderBy: { insertedAt: 'sideways' as never } })).rejects.toThrow(
        /"asc" or "desc"/,
      );
      await expect(sessions.findOne({ token: 42 as never })).rejects.toThrow(/filter "token" must be a string/);
    });

    it('matches null with IS NULL', async () => {
      await sessions.create({});
      await sessions.create({ userId: 'u' });
      expect(await sessions.count({ userId: null })).toBe(1);
    });
  });

  describe('update, expire, delete', () => {
    it('update replaces data and sets columns, in one statement (then the notice to other instances)', async () => {
      const { session } = await sessions.create({ userId: 'u', data: { a: 1 } });
      t.log.clear();
      const updated = await sessions.update(session, { data: { b: 2 }, userId: 'v' });
      expect(updated).toMatchObject({ id: session.id, data: { b: 2 }, userId: 'v' });
      expect(updated!.updatedAt.getTime()).toBeGreaterThanOrEqual(session.updatedAt.getTime());
      expect(t.log.statements).toHaveLength(2);
      expect(t.log.statements[0]).toMatch(/^update "sessions"/i);
      expect(t.log.statements[1]).toMatch(/pg_notify/);
      expect(await sessions.update(randomUUID(), { data: {} })).toBeNull();
      await expect(sessions.update(session, { id: 'x' } as never)).rejects.toThrow(/unknown attribute "id"/);
      await expect(sessions.update(42 as never, {})).rejects.toThrow(/expected a session or its id/);
    });

    it('expire ends a session now and keeps its row', async () => {
      const { session, token } = await sessions.create({ userId: 'u' });
      const expired = await sessions.expire(session);
      expect(expired!.isExpired).toBe(true);
      expect(await sessions.authenticate(token)).toBeNull();
      expect(await sessions.count({ status: 'expired' })).toBe(1);
      expect((await sessions.expire(session.id))!.expiresAt!.getTime()).toBe(expired!.expiresAt!.getTime());
      expect(await sessions.expire(randomUUID())).toBeNull();
    });

    it('delete removes one row', async () => {
      const { session, token } = await sessions.create({ userId: 'u' });
      await sessions.create({ userId: 'u' });
      expect(await sessions.delete(session)).toBe(true);
      expect(await sessions.delete(session.id)).toBe(false);
      expect(await sessions.delete('junk')).toBe(false);
      expect(await sessions.authenticate(token)).toBeNull();
      expect(await sessions.count({ status: 'all' })).toBe(1);
    });

    it('deleteAll signs a user out everywhere, or everywhere else with exceptId', async () => {
      const keep = await sessions.create({ userId: 'alice' });
      const other = await sessions.create({ userId: 'alice' });
      const old = await sessions.create({ userId: 'alice' });
      await sessions.create({ userId: 'bob' });
      await setTimes(t, old.session.id, { expiresIn: -1 });
      expect(await sessions.deleteAll({ userId: 'alice', exceptId: keep.session.id })).toBe(2);
      expect(await sessions.authenticate(other.token)).toBeNull();
      expect(await sessions.authenticate(keep.token)).not.toBeNull();
      expect(await sessions.deleteAll({ userId: 'alice' })).toBe(1);
      expect(await sessions.count({ userId: 'bob' })).toBe(1);
      await expect(sessions.deleteAll({ userId: undefined })).rejects.toThrow(/filter "userId"/);
      expect(await sessions.count({ status: 'all' })).toBe(1);
    });

    it('deleteExpired removes expired rows only', async () => {
      const a = await sessions.create({ userId: 'u' });
      await sessions.create({ userId: 'u' });
      await setTimes(t, a.session.id, { expiresIn: -1 });
      expect(await sessions.deleteExpired()).toBe(1);
      expect(await sessions.count({ status: 'all' })).toBe(1);
    });
  });
});
