const stack = require('./support/stack');
const { CONSUMER, client, startApp } = require('./support/app');
const { query } = require('./support/db');

const DAY = 86_400_000;

describe(`SessionsService on ${stack.title} (${CONSUMER} consumer)`, () => {
  let app;
  let api;

  beforeAll(async () => {
    app = await startApp();
    api = client(app.url);
  });
  afterAll(() => app?.stop());

  const create = (attrs, kind) => api.probe('create', { attrs, kind });

  it('create: a token and a session of the entity class, timestamps as Dates, expiring in 7 days', async () => {
    const before = Date.now();
    const { token, session } = await create({ userId: 'u-create', data: { agent: 'jest', n: 1 } });
    expect(token).toMatch(/^[A-Za-z0-9_-]{64}$/);
    expect(session).toMatchObject({
      userId: 'u-create',
      data: { agent: 'jest', n: 1 },
      isExpired: false,
      instanceOfSession: true,
    });
    expect(session.types).toEqual({ insertedAt: 'Date', updatedAt: 'Date', expiresAt: 'Date' });
    expect(session).not.toHaveProperty('authTokenDigest');
    const expires = Date.parse(session.expiresAt);
    expect(expires).toBeGreaterThanOrEqual(before + 7 * DAY - 1000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 7 * DAY + 1000);
  });

  it('authenticate: the valid session for its token, null for an unknown or malformed one', async () => {
    const { token, session } = await create({ userId: 'u-auth' });
    const found = (await api.probe('authenticate', { token })).session;
    expect(found).toMatchObject({ id: session.id, userId: 'u-auth', isExpired: false });
    expect(found.types).toEqual({ insertedAt: 'Date', updatedAt: 'Date', expiresAt: 'Date' });
    const unknown = token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A');
    expect((await api.probe('authenticate', { token: unknown })).session).toBeNull();
    expect((await api.probe('authenticate', { token: 'short' })).session).toBeNull();
    expect((await api.probe('authenticate', { token: "' OR 1=1 --" })).session).toBeNull();
    expect((await api.probe('authenticate', { token: 42 })).session).toBeNull();
  });

  it('findOne by token and by id', async () => {
    const { token, session } = await create({ userId: 'u-find' });
    expect((await api.probe('find-one', { filters: { token } })).session.id).toBe(session.id);
    expect((await api.probe('find-one', { filters: { id: session.id } })).session.userId).toBe('u-find');
    expect((await api.probe('find-one', { filters: { id: 'not-a-uuid' } })).session).toBeNull();
  });

  it('list: newest first, filtered by user, paged; count agrees', async () => {
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await create({ userId: 'u-list', data: { i } })).session.id);
    await create({ userId: 'someone-else' });
    const { sessions } = await api.probe('list', { filters: { userId: 'u-list' } });
    expect(sessions.map((s) => s.id)).toEqual([...ids].reverse());
    expect(sessions.every((s) => s.types.insertedAt === 'Date')).toBe(true);
    const page = await api.probe('list', { filters: { userId: 'u-list' }, options: { limit: 2, offset: 1 } });
    expect(page.sessions.map((s) => s.id)).toEqual([ids[1], ids[0]]);
    expect((await api.probe('count', { filters: { userId: 'u-list' } })).count).toBe(3);
  });

  it('update: data replaced or merged, values with quotes, backslashes and question marks kept as sent', async () => {
    const { session } = await create({ userId: 'u-update', data: { a: 1 } });
    const tricky = { quote: "it's", backslash: 'C:\\temp\\', question: 'why? ?? $1', unicode: 'żółć ✓' };
    const replaced = (await api.probe('update', { id: session.id, attrs: { data: tricky } })).session;
    expect(replaced.data).toEqual(tricky);
    const merged = (await api.probe('update', { id: session.id, attrs: { data: { b: 2 } }, merge: true })).session;
    expect(merged.data).toEqual({ ...tricky, b: 2 });
    const [row] = await query('SELECT data FROM sessions WHERE id = $1', [session.id]);
    expect(row.data).toEqual({ ...tricky, b: 2 });
  });

  it('expire: the session ends now, keeps its row, and no longer authenticates', async () => {
    const { token, session } = await create({ userId: 'u-expire' });
    const expired = (await api.probe('expire', { id: session.id })).session;
    expect(expired.isExpired).toBe(true);
    expect(Date.parse(expired.expiresAt)).toBeLessThanOrEqual(Date.now());
    expect((await api.probe('authenticate', { token })).session).toBeNull();
    expect((await api.probe('count', { filters: { userId: 'u-expire' } })).count).toBe(0);
    expect((await api.probe('count', { filters: { userId: 'u-expire', status: 'expired' } })).count).toBe(1);
    expect((await api.probe('count', { filters: { userId: 'u-expire', status: 'all' } })).count).toBe(1);
  });

  it('delete: removes the row once', async () => {
    const { token, session } = await create({ userId: 'u-delete' });
    expect((await api.probe('delete', { id: session.id })).deleted).toBe(true);
    expect((await api.probe('delete', { id: session.id })).deleted).toBe(false);
    expect((await api.probe('authenticate', { token })).session).toBeNull();
    expect(await query('SELECT id FROM sessions WHERE id = $1', [session.id])).toEqual([]);
  });

  it('deleteAll: signs out everywhere else, keeping exceptId', async () => {
    const keep = (await create({ userId: 'u-all' })).session.id;
    await create({ userId: 'u-all' });
    await create({ userId: 'u-all' });
    const other = await create({ userId: 'u-not-all' });
    expect((await api.probe('delete-all', { filters: { userId: 'u-all', exceptId: keep } })).count).toBe(2);
    const left = await api.probe('list', { filters: { userId: 'u-all', status: 'all' } });
    expect(left.sessions.map((s) => s.id)).toEqual([keep]);
    expect((await api.probe('authenticate', { token: other.token })).session).not.toBeNull();
  });

  it('deleteExpired and prune (inside a transaction with the advisory lock)', async () => {
    const a = await create({ userId: 'u-prune' });
    const b = await create({ userId: 'u-prune' });
    await api.probe('expire', { id: a.session.id });
    await api.probe('expire', { id: b.session.id });
    const c = await create({ userId: 'u-prune' });
    await api.probe('expire', { id: c.session.id });
    // Any rows already expired by earlier tests go too: count this user's only.
    const expiredBefore = (await api.probe('count', { filters: { status: 'expired' } })).count;
    expect(expiredBefore).toBeGreaterThanOrEqual(3);
    const { deleted } = await api.probe('prune');
    expect(deleted).toBe(expiredBefore);
    expect((await api.probe('count', { filters: { userId: 'u-prune', status: 'all' } })).count).toBe(0);
    const d = await create({ userId: 'u-prune' });
    await api.probe('expire', { id: d.session.id });
    expect((await api.probe('delete-expired')).count).toBe(1);
  });

  it("joins the caller's em.transactional and goes with its rollback", async () => {
    const { insideCount, afterCount } = await api.probe('rollback', { userId: 'u-rollback' });
    expect(insideCount).toBe(1);
    expect(afterCount).toBe(0);
  });

  it('the API-key kind: its own table, no expiry, a prefix, and a cache that hears revocations over LISTEN', async () => {
    const { token, session } = await create({ userId: 'u-key', label: 'ci' }, 'apiKeys');
    expect(token.startsWith('sk_test_')).toBe(true);
    expect(session).toMatchObject({ userId: 'u-key', label: 'ci', expiresAt: null, isExpired: false });
    expect(session.types.expiresAt).toBe('null');
    expect((await query('SELECT count(*)::int AS n FROM api_keys WHERE id = $1', [session.id]))[0].n).toBe(1);
    expect((await query('SELECT count(*)::int AS n FROM sessions WHERE id = $1', [session.id]))[0].n).toBe(0);
    // The LISTEN connection is made with `pg` from @mikro-orm/postgresql and the ORM's connection options.
    let status;
    for (let i = 0; i < 50; i++) {
      status = await api.probe('cache', { kind: 'apiKeys' });
      if (status.serving) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toMatchObject({ enabled: true, serving: true });
    expect((await api.probe('authenticate', { token, kind: 'apiKeys' })).session.id).toBe(session.id);
    expect((await api.probe('cache', { kind: 'apiKeys' })).size).toBe(1);
    await api.probe('delete', { id: session.id, kind: 'apiKeys' });
    expect((await api.probe('authenticate', { token, kind: 'apiKeys' })).session).toBeNull();
  });
});
