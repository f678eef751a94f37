const stack = require('./support/stack');
const { CONSUMER, client, startApp } = require('./support/app');

const HOUR = 3_600_000;

describe.each(['express', 'fastify'])(`forRootAsync on ${stack.title} with %s (${CONSUMER} consumer)`, (adapter) => {
  let app;
  let http;

  beforeAll(async () => {
    app = await startApp({ ADAPTER: adapter, MODE: 'forRootAsync' });
    http = client(app.url);
  });
  afterAll(() => app?.stop());

  it("applies the factories' options (ttl '2h', the API-key prefix) and registers both entities", async () => {
    const options = (await http.get('/_probe/options')).body;
    expect(options.default).toMatchObject({ name: 'default', ttl: 7200, tableName: 'sessions' });
    expect(options.apiKeys).toMatchObject({
      name: 'apiKeys',
      ttl: null,
      tableName: 'api_keys',
      tokenPrefix: 'sk_async_',
    });
    const env = (await http.get('/_probe/env')).body;
    expect(env.entities.map((e) => e.tableName).sort()).toEqual(['api_keys', 'secure_sessions', 'sessions']);
  });

  it('login, a guarded route, the cookie and an API key work as with forRoot', async () => {
    const before = Date.now();
    const login = await http.post('/auth/login', { userId: 'async-user' });
    expect(login.status).toBe(200);
    expect(login.headers.getSetCookie().find((c) => c.startsWith('auth_token='))).toMatch(/Max-Age=7200/);
    const me = await http.get('/me', { headers: { authorization: `Bearer ${login.body.token}` } });
    expect(me.status).toBe(200);
    expect(me.body.userId).toBe('async-user');
    expect(Date.parse(me.body.expiresAt)).toBeGreaterThanOrEqual(before + 2 * HOUR - 1000);
    expect(Date.parse(me.body.expiresAt)).toBeLessThanOrEqual(Date.now() + 2 * HOUR + 1000);
    expect((await http.get('/me')).status).toBe(401);
    const issued = await http.post(
      '/api-keys',
      { label: 'async' },
      { headers: { authorization: `Bearer ${login.body.token}` } },
    );
    expect(issued.body.key.startsWith('sk_async_')).toBe(true);
    const whoami = await http.get('/api/whoami', { headers: { 'x-api-key': issued.body.key } });
    expect(whoami.status).toBe(200);
    expect(whoami.body).toMatchObject({ userId: 'async-user', label: 'async' });
  });
});
