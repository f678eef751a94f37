const stack = require('./support/stack');
const { CONSUMER, client, setCookieOf, startApp } = require('./support/app');
const { query } = require('./support/db');

const cookieOf = (headers) => setCookieOf(headers, 'auth_token');

describe.each(['express', 'fastify'])(`HTTP on ${stack.title} with %s (${CONSUMER} consumer)`, (adapter) => {
  let app;
  let http;

  beforeAll(async () => {
    app = await startApp({ ADAPTER: adapter });
    http = client(app.url);
  });
  afterAll(() => app?.stop());

  const login = async (userId) => {
    const response = await http.post('/auth/login', { userId });
    expect(response.status).toBe(200);
    return response;
  };

  it('a guarded route answers 401 with a JSON body without a token', async () => {
    const response = await http.get('/me');
    expect(response.status).toBe(401);
    expect(response.headers.get('content-type')).toMatch(/json/);
    expect(response.body).toMatchObject({ statusCode: 401 });
    expect(response.headers.get('www-authenticate')).toMatch(/Bearer/);
  });

  it('401 for an unknown, a malformed or an empty bearer token, never 500', async () => {
    for (const authorization of ['Bearer ' + 'A'.repeat(64), 'Bearer not-a-token', 'Bearer ']) {
      const response = await http.get('/me', { headers: { authorization } });
      expect(response.status).toBe(401);
    }
  });

  it('login sets the session cookie: HttpOnly, Secure, SameSite=Lax, Path=/, Max-Age of the ttl', async () => {
    const { body, headers } = await login('alice');
    const cookie = cookieOf(headers);
    expect(cookie).toBeDefined();
    expect(cookie).toContain(`auth_token=${body.token}`);
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/Secure/i);
    expect(cookie).toMatch(/SameSite=Lax/i);
    expect(cookie).toMatch(/Path=\//);
    expect(cookie).toMatch(/Max-Age=604800/);
  });

  it('200 with the token as Bearer, as x-auth-token, and as the cookie', async () => {
    const { body } = await login('bob');
    for (const headers of [
      { authorization: `Bearer ${body.token}` },
      { 'x-auth-token': body.token },
      { cookie: `other=1; auth_token=${body.token}` },
    ]) {
      const response = await http.get('/me', { headers });
      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({ id: body.id, userId: 'bob' });
    }
    const property = await http.get('/me/user-id', { headers: { authorization: `Bearer ${body.token}` } });
    expect(property.body).toEqual({ userId: 'bob' });
  });

  it('an optional route runs without a token, with no session', async () => {
    expect((await http.get('/maybe')).body).toEqual({ session: null });
    const { body } = await login('carol');
    expect((await http.get('/maybe', { headers: { authorization: `Bearer ${body.token}` } })).body).toEqual({
      session: body.id,
    });
  });

  it('an expired session gets 401', async () => {
    const { body } = await login('dave');
    await http.probe('expire', { id: body.id });
    expect((await http.get('/me', { headers: { authorization: `Bearer ${body.token}` } })).status).toBe(401);
  });

  it('logout clears the cookie and deletes the session', async () => {
    const { body } = await login('erin');
    const headers = { authorization: `Bearer ${body.token}` };
    const response = await http.post('/auth/logout', {}, { headers });
    expect(response.status).toBe(200);
    const cleared = cookieOf(response.headers);
    expect(cleared).toMatch(/^auth_token=;/);
    expect(cleared).toMatch(/Max-Age=0/i);
    expect(cleared).toMatch(/Expires=Thu, 01 Jan 1970/i);
    expect((await http.get('/me', { headers })).status).toBe(401);
    expect(await query('SELECT id FROM sessions WHERE id = $1', [body.id])).toEqual([]);
  });

  it('two kinds side by side: an API key (own table, own header) is not a session, and a session is not an API key', async () => {
    const { body: session } = await login('frank');
    const issued = await http.post(
      '/api-keys',
      { label: adapter },
      { headers: { authorization: `Bearer ${session.token}` } },
    );
    expect(issued.status).toBe(201);
    const key = issued.body.key;
    expect(key.startsWith('sk_test_')).toBe(true);
    const whoami = await http.get('/api/whoami', { headers: { 'x-api-key': key } });
    expect(whoami.status).toBe(200);
    expect(whoami.body).toEqual({ userId: 'frank', label: adapter, expiresAt: null });
    expect((await http.get('/api/whoami', { headers: { 'x-api-key': session.token } })).status).toBe(401);
    expect((await http.get('/api/whoami', { headers: { authorization: `Bearer ${key}` } })).status).toBe(401);
    expect((await http.get('/me', { headers: { 'x-auth-token': key } })).status).toBe(401);
    const rows = await query('SELECT user_id, label FROM api_keys WHERE label = $1', [adapter]);
    expect(rows).toEqual([{ user_id: 'frank', label: adapter }]);
  });
});
