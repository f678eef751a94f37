const stack = require('./support/stack');
const { CONSUMER, client, setCookieOf, startApp } = require('./support/app');
const { query } = require('./support/db');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The `secure_token` value a response sets, if any. */
function cookieOf(response) {
  return setCookieOf(response.headers, 'secure_token')?.split(';')[0].slice('secure_token='.length);
}

describe.each(['forRoot', 'forRootAsync'])(
  `session security features on ${stack.title} (${CONSUMER} consumer, %s)`,
  (mode) => {
    let app;
    let api;

    beforeAll(async () => {
      app = await startApp({ MODE: mode });
      api = client(app.url);
    });
    afterAll(() => app?.stop());

    const create = (attrs) => api.probe('create', { kind: 'secure', attrs });
    const header = (token) => ({ headers: { 'x-secure-token': token } });

    it('adds the feature columns, timestamptz and jsonb, and the index on the replaced digest', async () => {
      const columns = await query(
        `SELECT column_name, data_type FROM information_schema.columns
        WHERE table_name = 'secure_sessions' AND table_schema = current_schema()`,
      );
      const types = Object.fromEntries(columns.map((c) => [c.column_name, c.data_type]));
      expect(types).toMatchObject({
        previous_auth_token_digest: 'character varying',
        rotated_at: 'timestamp with time zone',
        scopes: 'jsonb',
        last_used_at: 'timestamp with time zone',
      });
      const indexes = await query(`SELECT indexname FROM pg_indexes WHERE tablename = 'secure_sessions'`);
      expect(indexes.map((i) => i.indexname)).toContain('secure_sessions_previous_auth_token_digest_index');
    });

    it('scopes: 403 insufficient_scope until update() grants the scope', async () => {
      const { token, session } = await create({ userId: `scopes-${mode}`, scopes: ['read'] });
      expect(session.scopes).toEqual(['read']);
      const refused = await api.get('/secure/write', header(token));
      expect(refused.status).toBe(403);
      expect(refused.headers.get('www-authenticate')).toBe('Bearer error="insufficient_scope", scope="write"');
      await api.probe('update', { kind: 'secure', id: session.id, attrs: { scopes: ['read', 'write'] } });
      expect((await api.get('/secure/write', header(token))).status).toBe(200);
    });

    it('maxAge: a login older than a minute gets 401 insufficient_user_authentication; other routes still work', async () => {
      const { token, session } = await create({ userId: `sudo-${mode}` });
      expect((await api.get('/secure/sudo', header(token))).status).toBe(200);
      await query(`UPDATE secure_sessions SET inserted_at = inserted_at - interval '2 minutes' WHERE id = $1`, [
        session.id,
      ]);
      const refused = await api.get('/secure/sudo', header(token));
      expect(refused.status).toBe(401);
      expect(refused.headers.get('www-authenticate')).toBe(
        'Bearer error="insufficient_user_authentication", max_age="60"',
      );
      expect((await api.get('/secure/me', header(token))).status).toBe(200);
    });

    it('rotate(): the new token works, the replaced one inside its grace, one two rotations old never', async () => {
      const { token: t0, session } = await create({ userId: `rotate-${mode}` });
      const first = await api.probe('rotate', { kind: 'secure', id: session.id });
      expect(first.session).toMatchObject({ id: session.id, insertedAt: session.insertedAt });
      const second = await api.probe('rotate', { kind: 'secure', id: session.id });
      const auth = async (token) => (await api.probe('authenticate', { kind: 'secure', token })).session;
      expect((await auth(second.token)).id).toBe(session.id);
      expect((await auth(first.token)).id).toBe(session.id);
      expect(await auth(t0)).toBeNull();
    });

    it('rotation every: a cookie token older than every is reissued with a new cookie; a header token never', async () => {
      const { token } = await create({ userId: `every-${mode}` });
      await sleep(1100);
      const viaHeader = await api.get('/secure/me', header(token));
      expect(viaHeader.status).toBe(200);
      expect(cookieOf(viaHeader)).toBeUndefined();
      const viaCookie = await api.get('/secure/me', { headers: { cookie: `secure_token=${token}` } });
      expect(viaCookie.status).toBe(200);
      const next = cookieOf(viaCookie);
      expect(next).toBeDefined();
      expect(next).not.toBe(token);
      expect((await api.get('/secure/me', header(next))).body.rotatedAt).not.toBeNull();
    });

    it('trackLastUsed: the first use records lastUsedAt', async () => {
      const { token, session } = await create({ userId: `used-${mode}` });
      expect(session.lastUsedAt).toBeNull();
      await api.get('/secure/me', header(token));
      let found;
      for (let i = 0; i < 50; i++) {
        found = (await api.probe('find-one', { kind: 'secure', filters: { id: session.id } })).session;
        if (found.lastUsedAt) break;
        await sleep(20);
      }
      expect(found.lastUsedAt).not.toBeNull();
    });

    it('maxPerUser: a third login expires the oldest and says which', async () => {
      const user = `cap-${mode}`;
      const a = await create({ userId: user });
      expect(a.expired).toEqual([]);
      await create({ userId: user });
      const c = await create({ userId: user });
      expect(c.expired.map((s) => s.id)).toEqual([a.session.id]);
      expect((await api.probe('count', { kind: 'secure', filters: { userId: user } })).count).toBe(2);
    });
  },
);
