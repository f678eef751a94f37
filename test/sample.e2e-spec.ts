import type { INestApplication } from '@nestjs/common';
import { MikroORM } from '@mikro-orm/core';
import { getSessionsToken, type SessionsService } from 'nestjs-ecto-sessions';
import { createSampleApp } from '../sample/app.factory';
import { API_KEYS, type ApiKeyData, MAX_SESSIONS_PER_USER } from '../sample/sessions.config';

/**
 * The sample over HTTP, as a browser without JavaScript would use it: every
 * route, the cross-user and the CSRF cases.
 */

interface Reply {
  status: number;
  location: string | null;
  setCookies: string[];
  headers: Headers;
  body: string;
  json<T = any>(): T;
}

/** Form fields; a list is one field sent several times, as ticked checkboxes of one name are. */
type Form = Record<string, string | string[]>;

/** The sample on the test run's database, as these tests run it: no prune timer unless asked for, no logs. */
function startSample(options: Partial<Parameters<typeof createSampleApp>[0]> = {}) {
  return createSampleApp({
    databaseUrl: process.env.DATABASE_URL!,
    singleConnection: process.env.TEST_DATABASE_KIND === 'pglite',
    pruneInterval: null,
    logger: false,
    ...options,
  });
}

/** Where a listening app answers, as an IPv4 address. */
async function urlOf(app: INestApplication): Promise<string> {
  return (await app.getUrl()).replace('[::1]', '127.0.0.1');
}

function encodeForm(form: Form): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(form)) {
    for (const one of Array.isArray(value) ? value : [value]) params.append(name, one);
  }
  return params.toString();
}

/** Polls `check` (every 20 ms, for at most 3 s) until it returns something truthy; fails naming `what`. */
async function eventually<T>(check: () => Promise<T>, what: string): Promise<T> {
  for (let i = 0; i < 150; i++) {
    const value = await check();
    if (value) return value;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting until ${what}`);
}

/** A cookie-keeping HTTP client that does not follow redirects. */
class Client {
  readonly cookies = new Map<string, string>();

  constructor(
    private readonly base: string,
    readonly userAgent = 'sample-e2e',
  ) {}

  async request(
    method: string,
    path: string,
    options: { form?: Form; headers?: Record<string, string> } = {},
  ): Promise<Reply> {
    const headers: Record<string, string> = { 'user-agent': this.userAgent, ...options.headers };
    const cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    if (cookie) headers.cookie = cookie;
    if (options.form) headers['content-type'] = 'application/x-www-form-urlencoded';
    const res = await fetch(this.base + path, {
      method,
      headers,
      redirect: 'manual',
      body: options.form ? encodeForm(options.form) : undefined,
    });
    const setCookies = res.headers.getSetCookie();
    for (const line of setCookies) {
      const [pair] = line.split(';');
      const name = pair.slice(0, pair.indexOf('='));
      const value = pair.slice(pair.indexOf('=') + 1);
      if (/max-age=0/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const body = await res.text();
    return {
      status: res.status,
      location: res.headers.get('location'),
      setCookies,
      headers: res.headers,
      body,
      json: () => JSON.parse(body),
    };
  }

  get(path: string, headers?: Record<string, string>): Promise<Reply> {
    return this.request('GET', path, { headers });
  }

  /** A form POST carrying the CSRF token of the cookie, as the pages' forms do. */
  async post(path: string, fields: Form = {}): Promise<Reply> {
    if (!this.cookies.has('csrf_token')) await this.get('/');
    return this.request('POST', path, { form: { _csrf: this.cookies.get('csrf_token')!, ...fields } });
  }

  /** Follows one redirect with a GET, as a browser does after a 303. */
  async follow(reply: Reply): Promise<Reply> {
    expect(reply.status).toBe(303);
    return this.get(reply.location!);
  }
}

/** The ids of the session rows of an account page, and the one marked current. */
function sessionRows(html: string): { id: string; current: boolean; expired: boolean; row: string }[] {
  return [...html.matchAll(/<tr data-session-id="([^"]+)" class="([^"]*)">([\s\S]*?)<\/tr>/g)].map(
    ([, id, cls, row]) => ({
      id,
      current: cls.includes('current'),
      expired: cls.includes('expired'),
      row,
    }),
  );
}

function flashOf(html: string): string | undefined {
  return /<p class="flash[^"]*" role="status">([^<]*)<\/p>/.exec(html)?.[1];
}

/** The flash's kind, from its class: `info` or `error`. */
function flashTypeOf(html: string): string | undefined {
  return /<p class="flash flash-([a-z]+)" role="status">/.exec(html)?.[1];
}

/** The device column of a session row: what it shows, and the raw user agent in its tooltip. */
function deviceOf(row: string): { shown: string; title: string } | undefined {
  const match = /<td class="device" title="([^"]*)"[^>]*>([^<]*)<\/td>/.exec(row);
  return match ? { title: match[1], shown: match[2] } : undefined;
}

/** Real browsers' user agents and what the account page calls them. */
const DEVICES: [string, string][] = [
  [
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
    'Chrome on Windows',
  ],
  [
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
    'Chrome on Linux',
  ],
  ['Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0', 'Firefox on Linux'],
  [
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
    'Safari on iOS',
  ],
  [
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.87',
    'Microsoft Edge on macOS',
  ],
  [
    'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.6478.71 Mobile Safari/537.36',
    'Chrome on Android',
  ],
  // Clients no parser names: their own first word, or nothing to go on.
  ['curl/8.5.0', 'curl/8.5.0'],
  ['Custom-Client/' + 'x'.repeat(100), 'Custom-Client/' + 'x'.repeat(25) + '…'],
  ['', 'Unknown device'],
];

describe('sample app (HTTP)', () => {
  let app: INestApplication;
  let orm: MikroORM;
  let base: string;

  const sql = (query: string, params: unknown[] = []) => orm.em.getConnection().execute(query, params, 'all');

  beforeAll(async () => {
    // No prune timer: a prune between two steps would remove the expired rows a test looks at.
    app = await startSample();
    orm = app.get(MikroORM);
    // Other suites share the database and make a `sessions` table of their own shape.
    await orm.schema.dropSchema();
    await orm.schema.createSchema();
    await app.listen(0, '127.0.0.1');
    base = await urlOf(app);
  });
  afterAll(() => app.close());
  beforeEach(async () => {
    await sql('DELETE FROM api_keys');
    await sql('DELETE FROM sessions');
    await sql('DELETE FROM users');
  });

  /** Signs up in a new client (of the app at `at`); returns it with the user id and the session's token and id. */
  async function signUp(userAgent?: string, at = base) {
    const client = new Client(at, userAgent);
    const signup = await client.post('/signup');
    expect(signup.location).toBe('/account');
    const page = await client.follow(signup);
    const userId = /id="user-id">([^<]+)</.exec(page.body)![1];
    return { client, userId, token: client.cookies.get('auth_token')!, sessionId: sessionRows(page.body)[0].id, page };
  }

  /** Creates an API key through the page, with these scopes ticked; returns the key it shows once. */
  async function createKey(client: Client, name: string, scopes: string[] = []): Promise<string> {
    const page = await client.follow(await client.post('/api-keys', { name, scopes }));
    return /<pre id="new-key">([^<]+)</.exec(page.body)![1];
  }

  /** Logs in as an existing user in a new client (of the app at `at`). */
  async function logIn(userId: string, userAgent?: string, at = base) {
    const client = new Client(at, userAgent);
    const login = await client.post('/login', { user_id: userId });
    expect(login.location).toBe('/account');
    const page = await client.follow(login);
    return {
      client,
      token: client.cookies.get('auth_token')!,
      sessionId: sessionRows(page.body).find((r) => r.current)!.id,
      page,
    };
  }

  it('creates its tables on start (the schema is updated, never dropped)', async () => {
    await orm.schema.dropSchema();
    const other = await startSample();
    try {
      const tables = await other
        .get(MikroORM)
        .em.getConnection()
        .execute(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`);
      expect(tables.map((t: { table_name: string }) => t.table_name)).toEqual(
        expect.arrayContaining(['api_keys', 'sessions', 'users']),
      );
    } finally {
      await other.close();
    }
  });

  it('adds the security features’ columns to tables of the previous release; their sessions and keys still work', async () => {
    const a = await signUp();
    const key = await createKey(a.client, 'from before');
    const columns = async (table: string) =>
      (await sql(`SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY 1`, [table])).map(
        (c: { column_name: string }) => c.column_name,
      );
    const added = {
      sessions: ['previous_auth_token_digest', 'rotated_at'],
      api_keys: ['last_used_at', 'scopes'],
    };
    // The tables as the sample made them before: without the new columns (and the index on one).
    await sql('ALTER TABLE sessions DROP COLUMN previous_auth_token_digest, DROP COLUMN rotated_at');
    await sql('ALTER TABLE api_keys DROP COLUMN last_used_at, DROP COLUMN scopes');
    expect(await columns('sessions')).not.toEqual(expect.arrayContaining(added.sessions));
    const upgrading = await startSample();
    await upgrading.close();
    expect(await columns('sessions')).toEqual(expect.arrayContaining(added.sessions));
    expect(await columns('api_keys')).toEqual(expect.arrayContaining(added.api_keys));
    const indexes = (await sql(`SELECT indexdef FROM pg_indexes WHERE tablename = 'sessions'`)).map(
      (i: { indexdef: string }) => i.indexdef,
    );
    expect(indexes.some((def: string) => /\(previous_auth_token_digest\)/.test(def))).toBe(true);
    expect(await sql('SELECT scopes, last_used_at FROM api_keys')).toEqual([{ scopes: [], last_used_at: null }]);
    expect(await sql('SELECT rotated_at FROM sessions')).toEqual([{ rotated_at: null }]);
    expect((await a.client.get('/account')).status).toBe(200);
    expect((await new Client(base).get('/api/me', { 'x-auth-token': key })).json().is_logged_in).toBe(true);
  });

  it('prunes sessions an hour past their expiry, on its interval; more recently expired ones stay listed', async () => {
    const pruning = await startSample({ pruneInterval: '1s' });
    await pruning.init();
    try {
      const a = await signUp();
      const b = await logIn(a.userId);
      await sql(`UPDATE sessions SET expires_at = now() - interval '2 hours' WHERE id = ?`, [a.sessionId]);
      await sql(`UPDATE sessions SET expires_at = now() - interval '50 minutes' WHERE id = ?`, [b.sessionId]);
      const ids = async () => (await sql('SELECT id FROM sessions')).map((r: { id: string }) => r.id);
      for (let i = 0; i < 50 && (await ids()).includes(a.sessionId); i++) await new Promise((r) => setTimeout(r, 100));
      expect(await ids()).toEqual([b.sessionId]);
    } finally {
      await pruning.close();
    }
  });

  describe('home', () => {
    it('renders sign-up and log-in forms, each with the CSRF token of a SameSite=Lax cookie', async () => {
      const client = new Client(base);
      const home = await client.get('/');
      expect(home.status).toBe(200);
      expect(home.body).toContain('action="/signup"');
      expect(home.body).toContain('action="/login"');
      const csrf = home.setCookies.find((c) => c.startsWith('csrf_token='))!;
      expect(csrf).toMatch(/HttpOnly/);
      expect(csrf).toMatch(/SameSite=Lax/);
      const fields = [...home.body.matchAll(/name="_csrf" value="([^"]+)"/g)].map((m) => m[1]);
      expect(fields).toHaveLength(2);
      expect(new Set(fields)).toEqual(new Set([client.cookies.get('csrf_token')]));
      expect((await client.get('/')).setCookies.find((c) => c.startsWith('csrf_token='))).toBeUndefined();
    });

    it('says that the demo signs in by user id alone, so an id is a credential', async () => {
      const home = await new Client(base).get('/');
      expect(home.body).toMatch(/signs you in by user id alone/);
      expect(home.body).toMatch(/user id is a credential/);
    });

    it('serves the stylesheet', async () => {
      const css = await new Client(base).get('/assets/style.css');
      expect(css.status).toBe(200);
      expect(css.body).toContain('.badge-expired');
    });
  });

  describe('sign up and log in', () => {
    it('sign-up creates a user and a session, sets the cookies and reveals the token once', async () => {
      const { client, userId, token, page } = await signUp('Agent/1.0');
      expect(userId).toMatch(/^[0-9a-f-]{36}$/);
      expect(flashOf(page.body)).toContain(userId);
      expect(await sql('SELECT id FROM users')).toEqual([{ id: userId }]);
      expect(/<pre id="token">([^<]+)</.exec(page.body)?.[1]).toBe(token);
      expect(page.body).toContain(`X-Auth-Token: ${token}`);
      const again = await client.get('/account');
      expect(again.body).not.toContain(token);
      expect(again.body).toContain('X-Auth-Token: $TOKEN');
      const [row] = await sql('SELECT user_id, data FROM sessions');
      expect(row.user_id).toBe(userId);
      expect(row.data).toEqual({ userAgent: 'Agent/1.0', ip: '127.0.0.1' });
    });

    it('cookies: the token HttpOnly, SameSite=Lax and, on plain http, not Secure; the user id remembered', async () => {
      const client = new Client(base);
      const signup = await client.post('/signup');
      const auth = signup.setCookies.find((c) => c.startsWith('auth_token='))!;
      expect(auth).toMatch(/HttpOnly/);
      expect(auth).toMatch(/SameSite=Lax/);
      expect(auth).toMatch(/Path=\//);
      expect(auth).toMatch(/Max-Age=604800/);
      expect(auth).not.toMatch(/Secure/);
      const home = await client.get('/');
      expect(home.body).toContain(`value="${client.cookies.get('last_user_id')}"`);
    });

    it('log-in with a user id creates another session for that user', async () => {
      const first = await signUp();
      const second = await logIn(first.userId, 'Other/2.0');
      expect(second.sessionId).not.toBe(first.sessionId);
      const rows = sessionRows(second.page.body);
      expect(rows.map((r) => r.id).sort()).toEqual([first.sessionId, second.sessionId].sort());
      expect(rows.filter((r) => r.current).map((r) => r.id)).toEqual([second.sessionId]);
      expect(second.page.body).toContain('Other/2.0');
      expect(flashOf(second.page.body)).toContain('logged in');
    });

    it.each([
      ['an unknown id', '00000000-0000-4000-8000-000000000000'],
      ['not a uuid', 'nope'],
      ['nothing', ''],
    ])('log-in with %s goes home with an error and no session', async (_what, userId) => {
      const client = new Client(base);
      const login = await client.post('/login', { user_id: userId });
      expect(login.location).toBe('/');
      expect(login.setCookies.some((c) => c.startsWith('auth_token='))).toBe(false);
      const home = await client.follow(login);
      expect(flashOf(home.body)).toMatch(/Unknown user id/);
      expect(flashOf((await client.get('/')).body)).toBeUndefined();
      expect(await sql('SELECT id FROM sessions')).toEqual([]);
    });
  });

  describe('account', () => {
    it('without a session sends the browser home', async () => {
      const client = new Client(base);
      const reply = await client.get('/account');
      expect(reply.location).toBe('/');
      const home = await client.follow(reply);
      expect(flashOf(home.body)).toMatch(/log in first/);
      // Not a success: the page refused, so it is shown as the flash for errors.
      expect(flashTypeOf(home.body)).toBe('error');
    });

    it('with a dead token sends the browser home and drops the cookie', async () => {
      const client = new Client(base);
      client.cookies.set('auth_token', 'x'.repeat(64));
      const reply = await client.get('/account');
      expect(reply.location).toBe('/');
      expect(client.cookies.has('auth_token')).toBe(false);
      expect(flashOf((await client.follow(reply)).body)).toMatch(/session has ended/);
    });

    it('lists valid and expired sessions with times, user agent and IP, the current one marked', async () => {
      const a = await signUp('Browser/A');
      const b = await logIn(a.userId, 'Browser/B');
      expect((await a.client.post(`/account/sessions/${b.sessionId}/expire`)).location).toBe('/account');
      const page = await a.client.get('/account');
      const rows = sessionRows(page.body);
      expect(rows).toHaveLength(2);
      const mine = rows.find((r) => r.id === a.sessionId)!;
      const theirs = rows.find((r) => r.id === b.sessionId)!;
      expect(mine).toMatchObject({ current: true, expired: false });
      expect(mine.row).toContain('this browser');
      expect(mine.row).toContain('Browser/A');
      expect(mine.row).toContain('127.0.0.1');
      expect(mine.row).toMatch(/<time datetime="[^"]+">\d{4}-\d\d-\d\d \d\d:\d\d UTC<\/time>/);
      expect(theirs).toMatchObject({ current: false, expired: true });
      expect(theirs.row).toContain('Browser/B');
      expect(theirs.row).toMatch(/badge-expired/);
    });

    it.each(DEVICES)('names the device of user agent %j as %j, the raw agent in its tooltip', async (agent, name) => {
      const a = await signUp(agent);
      const row = sessionRows(a.page.body)[0].row;
      expect(deviceOf(row)).toEqual({ shown: name, title: agent });
    });

    it('has one Sign out, in the toolbar: the row of this browser offers no second one', async () => {
      const a = await signUp();
      const b = await logIn(a.userId);
      const page = await a.client.get('/account');
      const buttons = [...page.body.matchAll(/<button[^>]*>([^<]*)<\/button>/g)].map((m) => m[1].trim());
      expect(buttons.filter((label) => /sign out$/i.test(label))).toEqual(['Sign out']);
      expect(page.body).toMatch(
        /<form method="post" action="\/account\/sign-out">\s*<input[^>]*>\s*<button[^>]*>Sign out<\/button>/,
      );
      const rows = sessionRows(page.body);
      expect(rows.find((r) => r.current)!.row).not.toContain('/delete"');
      expect(rows.find((r) => r.id === b.sessionId)!.row).toContain(`/account/sessions/${b.sessionId}/delete"`);
    });

    it('expiring another session keeps its row and sends that device home', async () => {
      const a = await signUp();
      const b = await logIn(a.userId);
      await a.client.post(`/account/sessions/${b.sessionId}/expire`);
      const [row] = await sql('SELECT expires_at FROM sessions WHERE id = ?', [b.sessionId]);
      expect(new Date(row.expires_at).getTime()).toBeLessThanOrEqual(Date.now());
      expect((await b.client.get('/account')).location).toBe('/');
      expect((await a.client.get('/account')).status).toBe(200);
    });

    it('deleting another session removes it and sends that device home', async () => {
      const a = await signUp();
      const b = await logIn(a.userId);
      const reply = await a.client.post(`/account/sessions/${b.sessionId}/delete`);
      expect(reply.location).toBe('/account');
      expect(flashOf((await a.client.follow(reply)).body)).toMatch(/deleted/);
      expect(await sql('SELECT id FROM sessions WHERE id = ?', [b.sessionId])).toEqual([]);
      expect((await b.client.get('/account')).location).toBe('/');
    });

    it('expiring the current session signs this browser out; logging in again lists it as expired', async () => {
      const a = await signUp();
      const reply = await a.client.post(`/account/sessions/${a.sessionId}/expire`);
      expect(reply.location).toBe('/');
      expect(a.client.cookies.has('auth_token')).toBe(false);
      const again = await logIn(a.userId);
      expect(sessionRows(again.page.body).find((r) => r.id === a.sessionId)).toMatchObject({
        expired: true,
        current: false,
      });
    });

    it.each(['/account/sign-out', 'per-row delete of the current session'])(
      '%s deletes the current session and goes home',
      async (how) => {
        const a = await signUp();
        const b = await logIn(a.userId);
        const path = how.startsWith('/') ? how : `/account/sessions/${a.sessionId}/delete`;
        const reply = await a.client.post(path);
        expect(reply.location).toBe('/');
        expect(a.client.cookies.has('auth_token')).toBe(false);
        expect(flashOf((await a.client.follow(reply)).body)).toMatch(/signed out/);
        expect((await sql('SELECT id FROM sessions')).map((r: { id: string }) => r.id)).toEqual([b.sessionId]);
      },
    );

    it('signs out of all other devices', async () => {
      const a = await signUp();
      const b = await logIn(a.userId);
      const c = await logIn(a.userId);
      const stranger = await signUp();
      const reply = await a.client.post('/account/sign-out-others');
      expect(reply.location).toBe('/account');
      expect(flashOf((await a.client.follow(reply)).body)).toMatch(/2 other sessions/);
      const left = (await sql('SELECT id FROM sessions ORDER BY inserted_at')).map((r: { id: string }) => r.id);
      expect(left).toEqual([a.sessionId, stranger.sessionId]);
      expect((await b.client.get('/account')).location).toBe('/');
      expect((await c.client.get('/account')).location).toBe('/');
    });

    it('signs out everywhere, leaving other users and API keys alone', async () => {
      const a = await signUp();
      await logIn(a.userId);
      await a.client.post('/api-keys', { name: 'kept' });
      const stranger = await signUp();
      const reply = await a.client.post('/account/sign-out-everywhere');
      expect(reply.location).toBe('/');
      expect(flashOf((await a.client.follow(reply)).body)).toMatch(/2 sessions deleted; your API keys still work/);
      expect((await sql('SELECT id FROM sessions')).map((r: { id: string }) => r.id)).toEqual([stranger.sessionId]);
      expect(await sql('SELECT id FROM api_keys')).toHaveLength(1);
    });

    it('sign out everywhere says that API keys are separate and offers to revoke them too', async () => {
      const { page } = await signUp();
      const form = /<form method="post" action="\/account\/sign-out-everywhere">([\s\S]*?)<\/form>/.exec(page.body)![1];
      expect(form).toContain('<input type="checkbox" name="revoke_api_keys" value="1"');
      expect(form).toContain('Also revoke all API keys');
      expect(page.body).toMatch(/API keys are separate/);
    });

    it("signs out everywhere and, when asked, revokes all my API keys, not other users'", async () => {
      const a = await signUp();
      const b = await logIn(a.userId);
      const keys = [await createKey(a.client, 'one'), await createKey(a.client, 'two')];
      const stranger = await signUp();
      const strangerKey = await createKey(stranger.client, 'theirs');
      const reply = await a.client.post('/account/sign-out-everywhere', { revoke_api_keys: '1' });
      expect(reply.location).toBe('/');
      expect(flashOf((await a.client.follow(reply)).body)).toMatch(/2 sessions deleted, 2 API keys revoked/);
      expect((await sql('SELECT id FROM sessions')).map((r: { id: string }) => r.id)).toEqual([stranger.sessionId]);
      expect((await sql('SELECT user_id FROM api_keys')).map((r: { user_id: string }) => r.user_id)).toEqual([
        stranger.userId,
      ]);
      for (const key of keys) {
        expect((await new Client(base).get('/api/me', { 'x-auth-token': key })).json().is_logged_in).toBe(false);
      }
      expect((await new Client(base).get('/api/me', { 'x-auth-token': strangerKey })).json().is_logged_in).toBe(true);
      expect((await b.client.get('/account')).location).toBe('/');
    });

    it('log in again makes a new session for this browser and keeps the old one valid', async () => {
      const a = await signUp();
      const reply = await a.client.post('/account/login-again');
      expect(reply.location).toBe('/account');
      const newToken = a.client.cookies.get('auth_token')!;
      expect(newToken).not.toBe(a.token);
      const page = await a.client.follow(reply);
      expect(page.body).toContain(`<pre id="token">${newToken}</pre>`);
      const rows = sessionRows(page.body);
      expect(rows).toHaveLength(2);
      expect(rows.find((r) => r.id === a.sessionId)).toMatchObject({ current: false, expired: false });
      expect((await new Client(base).get('/api/me', { 'x-auth-token': a.token })).json().is_logged_in).toBe(true);
    });

    describe('another user', () => {
      it.each(['expire', 'delete'])('cannot %s my session: 404, and it stays valid', async (action) => {
        const me = await signUp();
        const other = await signUp();
        const reply = await other.client.post(`/account/sessions/${me.sessionId}/${action}`);
        expect(reply.status).toBe(404);
        expect(reply.body).toContain('No such session');
        expect((await me.client.get('/account')).status).toBe(200);
        expect(sessionRows((await other.client.get('/account')).body).map((r) => r.id)).toEqual([other.sessionId]);
      });

      it('an id that is not a uuid is a 404 too', async () => {
        const me = await signUp();
        expect((await me.client.post('/account/sessions/not-a-uuid/delete')).status).toBe(404);
      });
    });
  });

  describe('flash messages and revealed secrets', () => {
    /** A flash cookie as a client could write it: the sample's old format, JSON in plain sight. */
    const forged = (flash: object) => encodeURIComponent(JSON.stringify(flash));

    it('a forged flash cookie reveals no token and shows no message', async () => {
      const a = await signUp();
      a.client.cookies.set('flash', forged({ type: 'info', message: 'forged message', revealToken: true }));
      const page = await a.client.get('/account');
      expect(page.status).toBe(200);
      expect(page.body).not.toContain(a.token);
      expect(page.body).not.toContain('id="token"');
      expect(page.body).not.toContain('forged message');
      expect(a.client.cookies.has('flash')).toBe(false);
    });

    it('a forged flash cookie shows no attacker-chosen API key', async () => {
      const a = await signUp();
      const apiKey = { name: 'recovery', token: 'FORGED-KEY-0123456789' };
      a.client.cookies.set('flash', forged({ type: 'info', message: 'API key created', apiKey }));
      const page = await a.client.get('/api-keys');
      expect(page.status).toBe(200);
      expect(page.body).not.toContain('FORGED-KEY');
      expect(page.body).not.toContain('id="new-key"');
    });

    /** Copies another browser's cookies into this one, as a cookie-tossing attacker might. */
    const plant = (from: Client, to: Client, names: string[]) =>
      names.forEach((name) => to.cookies.set(name, from.cookies.get(name)!));
    const planted: [string, string[]][] = [
      ['the flash cookie', ['flash']],
      ['the flash and CSRF cookies', ['flash', 'csrf_token']],
    ];

    it.each(planted)("another browser's real flash, planted in mine (%s), reveals no token", async (_what, names) => {
      const victim = await signUp();
      const attacker = new Client(base);
      await attacker.post('/signup'); // not followed: its flash is still unread
      const attackerToken = attacker.cookies.get('auth_token')!;
      plant(attacker, victim.client, names);
      const page = await victim.client.get('/account');
      expect(page.status).toBe(200);
      expect(page.body).not.toContain(attackerToken);
      expect(page.body).not.toContain(victim.token);
      expect(page.body).not.toContain('id="token"');
      if (names.length === 1) expect(flashOf(page.body)).toBeUndefined();
    });

    it.each(planted)(
      "another user's new API key, its flash planted in my browser (%s), is not shown",
      async (_what, names) => {
        const victim = await signUp();
        const attacker = await signUp();
        await attacker.client.post('/api-keys', { name: 'use me' }); // not followed
        plant(attacker.client, victim.client, names);
        const page = await victim.client.get('/api-keys');
        expect(page.status).toBe(200);
        expect(page.body).not.toContain('id="new-key"');
        if (names.length === 1) expect(page.body).not.toContain('use me');
      },
    );

    it('the flash cookie holds no secret: the new session token and API key stay on the server', async () => {
      const client = new Client(base);
      await client.post('/signup');
      const token = client.cookies.get('auth_token')!;
      expect(decodeURIComponent(client.cookies.get('flash')!)).not.toContain(token);
      await client.get('/account');
      const create = await client.post('/api-keys', { name: 'k' });
      const key = /<pre id="new-key">([^<]+)</.exec((await client.follow(create)).body)![1];
      expect(create.setCookies.join('\n')).not.toContain(key);
    });

    it('pages that reveal a new token or API key, and every other page, carry Cache-Control: no-store', async () => {
      const { client, page } = await signUp();
      expect(page.body).toContain('id="token"');
      expect(page.headers.get('cache-control')).toBe('no-store');
      const created = await client.follow(await client.post('/api-keys', { name: 'k' }));
      expect(created.body).toContain('id="new-key"');
      expect(created.headers.get('cache-control')).toBe('no-store');
      for (const path of ['/', '/account', '/api-keys', '/stats']) {
        expect((await client.get(path)).headers.get('cache-control')).toBe('no-store');
      }
    });
  });

  describe('CSRF', () => {
    const routes = [
      '/signup',
      '/login',
      '/account/sessions/:id/expire',
      '/account/sessions/:id/delete',
      '/account/sign-out',
      '/account/sign-out-others',
      '/account/sign-out-everywhere',
      '/account/login-again',
      '/api-keys',
      '/api-keys/:key/revoke',
    ];

    async function fixture() {
      const a = await signUp();
      await a.client.post('/api-keys', { name: 'k' });
      const [{ id: keyId }] = await sql('SELECT id FROM api_keys');
      const before =
        JSON.stringify(await sql('SELECT * FROM sessions ORDER BY id')) +
        JSON.stringify(await sql('SELECT * FROM api_keys'));
      const users = (await sql('SELECT id FROM users')).length;
      return {
        a,
        keyId,
        before,
        users,
        path: (route: string) => route.replace(':id', a.sessionId).replace(':key', keyId),
      };
    }

    async function unchanged(f: Awaited<ReturnType<typeof fixture>>) {
      const after =
        JSON.stringify(await sql('SELECT * FROM sessions ORDER BY id')) +
        JSON.stringify(await sql('SELECT * FROM api_keys'));
      expect(after).toBe(f.before);
      expect(await sql('SELECT id FROM users')).toHaveLength(f.users);
    }

    it.each(routes)('POST %s without _csrf is refused with 403 and changes nothing', async (route) => {
      const f = await fixture();
      const reply = await f.a.client.request('POST', f.path(route), { form: { user_id: f.a.userId, name: 'x' } });
      expect(reply.status).toBe(403);
      expect(reply.body).toContain('CSRF');
      await unchanged(f);
    });

    it.each(routes)('POST %s with a wrong _csrf is refused', async (route) => {
      const f = await fixture();
      const wrong = 'A'.repeat(43);
      const reply = await f.a.client.request('POST', f.path(route), {
        form: { _csrf: wrong, user_id: f.a.userId, name: 'x' },
      });
      expect(reply.status).toBe(403);
      await unchanged(f);
    });

    it('a cross-site form that copies a token but lacks the cookie is refused', async () => {
      const f = await fixture();
      const token = f.a.client.cookies.get('csrf_token')!;
      const attacker = new Client(base);
      attacker.cookies.set('auth_token', f.a.token); // as if the browser sent it (SameSite=Lax does not)
      const reply = await attacker.request('POST', '/account/sign-out-everywhere', { form: { _csrf: token } });
      expect(reply.status).toBe(403);
      await unchanged(f);
    });

    it('GET routes and the JSON API need no token', async () => {
      const a = await signUp();
      for (const path of ['/', '/account', '/api-keys', '/stats']) expect((await a.client.get(path)).status).toBe(200);
      expect((await new Client(base).get('/api/me', { 'x-auth-token': a.token })).status).toBe(200);
    });
  });

  describe('API keys', () => {
    it('needs a session', async () => {
      const client = new Client(base);
      expect((await client.get('/api-keys')).location).toBe('/');
      expect((await client.post('/api-keys', { name: 'x' })).location).toBe('/');
      expect(await sql('SELECT id FROM api_keys')).toEqual([]);
    });

    it('creates a named key, shows it once, and lists it with its last use', async () => {
      const a = await signUp();
      const reply = await a.client.post('/api-keys', { name: 'deploy <script>' });
      expect(reply.location).toBe('/api-keys');
      const created = await a.client.follow(reply);
      expect(created.body).toContain('deploy &lt;script&gt;');
      const key = /<pre id="new-key">([^<]+)</.exec(created.body)![1];
      expect(key).toMatch(/^[A-Za-z0-9_-]{64}$/);
      const [row] = await sql('SELECT user_id, data, expires_at, auth_token_digest FROM api_keys');
      expect(row).toMatchObject({ user_id: a.userId, data: { name: 'deploy <script>' }, expires_at: null });
      expect(row.auth_token_digest).not.toBe(key);

      const list = await a.client.get('/api-keys');
      expect(list.body).not.toContain(key);
      expect(list.body).toContain('deploy &lt;script&gt;');
      expect(/class="last-used">([^<]+)</.exec(list.body)![1]).toBe('never');

      const me = await new Client(base).get('/api/me', { 'x-auth-token': key });
      expect(me.json()).toMatchObject({
        is_logged_in: true,
        user: { id: a.userId },
        session: { kind: 'api_key', name: 'deploy <script>', expires_at: null },
      });
      expect((await new Client(base).get('/api/me', { authorization: `Bearer ${key}` })).json().is_logged_in).toBe(
        true,
      );
      // The library records the use (`trackLastUsed`), possibly just after the answer.
      const used = await eventually(
        async () => (await sql('SELECT last_used_at FROM api_keys'))[0].last_used_at,
        'the use is recorded',
      );
      const cell = /class="last-used"><time datetime="([^"]+)">([^<]+)</.exec((await a.client.get('/api-keys')).body)!;
      expect(cell[1]).toBe(new Date(used).toISOString());
      expect(cell[2]).toMatch(/UTC$/);
    });

    it('refuses an empty name', async () => {
      const a = await signUp();
      const reply = await a.client.post('/api-keys', { name: '   ' });
      expect(reply.location).toBe('/api-keys');
      expect(flashOf((await a.client.follow(reply)).body)).toMatch(/name/);
      expect(await sql('SELECT id FROM api_keys')).toEqual([]);
    });

    it('revokes a key: it is gone and no longer authenticates', async () => {
      const a = await signUp();
      const key = await createKey(a.client, 'k');
      const [{ id }] = await sql('SELECT id FROM api_keys');
      const reply = await a.client.post(`/api-keys/${id}/revoke`);
      expect(reply.location).toBe('/api-keys');
      expect(flashOf((await a.client.follow(reply)).body)).toMatch(/revoked/);
      expect(await sql('SELECT id FROM api_keys')).toEqual([]);
      expect((await new Client(base).get('/api/me', { 'x-auth-token': key })).json()).toEqual({ is_logged_in: false });
    });

    it('another user neither sees nor revokes my key (404)', async () => {
      const me = await signUp();
      await me.client.post('/api-keys', { name: 'mine' });
      const [{ id }] = await sql('SELECT id FROM api_keys');
      const other = await signUp();
      expect((await other.client.get('/api-keys')).body).not.toContain('mine');
      const reply = await other.client.post(`/api-keys/${id}/revoke`);
      expect(reply.status).toBe(404);
      expect(await sql('SELECT id FROM api_keys')).toHaveLength(1);
    });

    it('pages through more than 100 keys, so none hides: the 101st (the oldest) is on page 2', async () => {
      const a = await signUp();
      const service = app.get<SessionsService<ApiKeyData>>(getSessionsToken(API_KEYS));
      for (let i = 0; i < 101; i++) {
        await service.create({ userId: a.userId, data: { name: `key-${String(i).padStart(3, '0')}` } });
      }
      const names = (html: string) => [...html.matchAll(/<tr data-key-id="[^"]+">\s*<td>([^<]+)</g)].map((m) => m[1]);
      const link = (html: string, rel: string) =>
        new RegExp(`<a href="([^"]+)" rel="${rel}"`).exec(html)?.[1].replace(/&amp;/g, '&');

      const first = await a.client.get('/api-keys');
      expect(names(first.body)).toHaveLength(100);
      expect(names(first.body)).not.toContain('key-000');
      expect(link(first.body, 'prev')).toBeUndefined();
      expect(link(first.body, 'next')).toBe('/api-keys?page=2');

      const second = await a.client.get(link(first.body, 'next')!);
      expect(names(second.body)).toEqual(['key-000']);
      expect(link(second.body, 'next')).toBeUndefined();
      expect(link(second.body, 'prev')).toBe('/api-keys?page=1');
      expect(new Set([...names(first.body), ...names(second.body)]).size).toBe(101);

      for (const page of ['0', '-1', 'x', '1.5']) {
        expect(names((await a.client.get(`/api-keys?page=${page}`)).body)).toEqual(names(first.body));
      }
    });

    it('a key is not a browser session: the cookie does not take one', async () => {
      const a = await signUp();
      const key = await createKey(a.client, 'k');
      const browser = new Client(base);
      browser.cookies.set('auth_token', key);
      expect((await browser.get('/account')).location).toBe('/');
    });
  });

  describe('token rotation (rotation.every)', () => {
    /** The sample with a two-second `every`, so a token is due for rotation after a short wait. */
    async function rotatingApp() {
      const rotating = await startSample({ rotateEvery: '2s' });
      await rotating.listen(0, '127.0.0.1');
      return { app: rotating, url: await urlOf(rotating) };
    }
    const waitPastEvery = () => new Promise((r) => setTimeout(r, 2300));
    const authCookie = (reply: Reply) => reply.setCookies.find((c) => c.startsWith('auth_token='));

    it('replaces the cookie of a token older than `every`; the replaced token works for the grace minute, then not', async () => {
      const rotating = await rotatingApp();
      try {
        const a = await signUp('Rotating/1.0', rotating.url);
        const [before] = await sql('SELECT inserted_at, rotated_at FROM sessions WHERE id = ?', [a.sessionId]);
        expect(before.rotated_at).toBeNull();
        // Within `every`: no new token.
        expect(authCookie(await a.client.get('/account'))).toBeUndefined();
        await waitPastEvery();
        const page = await a.client.get('/account');
        expect(page.status).toBe(200);
        const cookie = authCookie(page)!;
        expect(cookie).toMatch(/HttpOnly/);
        expect(cookie).toMatch(/SameSite=Lax/);
        const renewed = a.client.cookies.get('auth_token')!;
        expect(renewed).toMatch(/^[A-Za-z0-9_-]{64}$/);
        expect(renewed).not.toBe(a.token);
        // The same row (id, login time) with a new token; the page says it was just replaced.
        const rows = await sql('SELECT id, inserted_at, rotated_at FROM sessions');
        expect(rows).toHaveLength(1);
        expect(rows[0].id).toBe(a.sessionId);
        expect(new Date(rows[0].inserted_at)).toEqual(new Date(before.inserted_at));
        expect(rows[0].rotated_at).not.toBeNull();
        expect(sessionRows(page.body).find((r) => r.current)!.id).toBe(a.sessionId);
        expect(page.body).toMatch(/This browser's token was last replaced\s*<time datetime="([^"]+)"/);
        const shown = /This browser's token was last replaced\s*<time datetime="([^"]+)"/.exec(page.body)![1];
        expect(shown).toBe(new Date(rows[0].rotated_at).toISOString());

        // The replaced token, in another tab or a request on its way, still works and is not replaced again.
        const tab = new Client(rotating.url);
        tab.cookies.set('auth_token', a.token);
        const old = await tab.get('/account');
        expect(old.status).toBe(200);
        expect(authCookie(old)).toBeUndefined();
        expect((await a.client.get('/account')).status).toBe(200);

        // Past the grace minute (as if the rotation were two minutes ago), the replaced token is refused.
        await sql(`UPDATE sessions SET rotated_at = rotated_at - interval '2 minutes' WHERE id = ?`, [a.sessionId]);
        expect((await tab.get('/account')).location).toBe('/');
        expect((await a.client.get('/account')).status).toBe(200);
      } finally {
        await rotating.app.close();
      }
    });

    it('never replaces a token sent in a header: the client could not learn the new one', async () => {
      const rotating = await rotatingApp();
      try {
        const a = await signUp('Rotating/1.0', rotating.url);
        await waitPastEvery();
        const script = new Client(rotating.url);
        const reply = await script.get('/account', { 'x-auth-token': a.token });
        expect(reply.status).toBe(200);
        expect(authCookie(reply)).toBeUndefined();
        expect((await sql('SELECT rotated_at FROM sessions'))[0].rotated_at).toBeNull();
        expect((await script.get('/account', { 'x-auth-token': a.token })).status).toBe(200);
      } finally {
        await rotating.app.close();
      }
    });

    it('the account page says when the token was issued and how often it is replaced (15 minutes by default)', async () => {
      const { page, sessionId } = await signUp();
      const [row] = await sql('SELECT inserted_at FROM sessions WHERE id = ?', [sessionId]);
      const card = /<section class="card" id="rotation">([\s\S]*?)<\/section>/.exec(page.body)![1];
      expect(card).toMatch(/issued at login\s*<time datetime="([^"]+)"/);
      expect(/<time datetime="([^"]+)"/.exec(card)![1]).toBe(new Date(row.inserted_at).toISOString());
      expect(card).toContain('Once it is 15 minutes old');
      expect(card).toMatch(/keeps working\s+for 1 minute/);
    });
  });

  describe('sign out everywhere needs a recent login (step-up, maxAge)', () => {
    /** Moves a session's login (its `inserted_at`) this many minutes into the past. */
    const age = (sessionId: string, minutes: number) =>
      sql(`UPDATE sessions SET inserted_at = inserted_at - make_interval(mins => ?) WHERE id = ?`, [
        minutes,
        sessionId,
      ]);

    it('with a login older than 5 minutes: 401, a page that asks to log in again and says why; nothing signed out', async () => {
      const a = await signUp();
      const b = await logIn(a.userId);
      await age(a.sessionId, 6);
      const before = await sql('SELECT * FROM sessions ORDER BY id');
      const reply = await a.client.post('/account/sign-out-everywhere', { revoke_api_keys: '1' });
      expect(reply.status).toBe(401);
      expect(reply.headers.get('www-authenticate')).toBe(
        'Bearer error="insufficient_user_authentication", max_age="300"',
      );
      expect(reply.headers.get('content-type')).toMatch(/^text\/html/);
      expect(reply.headers.get('cache-control')).toBe('no-store');
      expect(reply.body).toContain('<h1>Log in again</h1>');
      expect(reply.body).toMatch(/Sign out everywhere needs a recent login<\/strong>: one from the last 5 minutes/);
      expect(reply.body).toMatch(/Your session still works for everything else/);
      const form = /<form method="post" action="\/login">([\s\S]*?)<\/form>/.exec(reply.body)![1];
      expect(form).toContain(`name="_csrf" value="${a.client.cookies.get('csrf_token')}"`);
      expect(form).toContain('name="user_id"');
      // The session stays: its cookie is not dropped, nothing changed, and the account page still opens.
      expect(reply.setCookies.some((c) => c.startsWith('auth_token='))).toBe(false);
      expect(await sql('SELECT * FROM sessions ORDER BY id')).toEqual(before);
      expect((await a.client.get('/account')).status).toBe(200);
      expect((await b.client.get('/account')).status).toBe(200);
    });

    it('logging in again (a new session) lets it through', async () => {
      const a = await signUp();
      await logIn(a.userId);
      await age(a.sessionId, 10);
      expect((await a.client.post('/account/sign-out-everywhere')).status).toBe(401);
      const again = await a.client.post('/login', { user_id: a.userId });
      expect(again.location).toBe('/account');
      expect(a.client.cookies.get('auth_token')).not.toBe(a.token);
      const reply = await a.client.post('/account/sign-out-everywhere');
      expect(reply.location).toBe('/');
      expect(flashOf((await a.client.follow(reply)).body)).toMatch(/3 sessions deleted/);
      expect(await sql('SELECT id FROM sessions')).toEqual([]);
    });

    it('a login just inside 5 minutes is let through', async () => {
      const a = await signUp();
      await age(a.sessionId, 4);
      const reply = await a.client.post('/account/sign-out-everywhere');
      expect(reply.location).toBe('/');
      expect(await sql('SELECT id FROM sessions')).toEqual([]);
    });

    it('the other actions never ask, however old the login', async () => {
      const a = await signUp();
      const b = await logIn(a.userId);
      const c = await logIn(a.userId);
      await age(a.sessionId, 10);
      expect((await a.client.get('/account')).status).toBe(200);
      expect((await a.client.post(`/account/sessions/${b.sessionId}/expire`)).location).toBe('/account');
      expect((await a.client.post(`/account/sessions/${b.sessionId}/delete`)).location).toBe('/account');
      expect((await a.client.post('/api-keys', { name: 'k' })).location).toBe('/api-keys');
      const [{ id }] = await sql('SELECT id FROM api_keys');
      expect((await a.client.post(`/api-keys/${id}/revoke`)).location).toBe('/api-keys');
      expect((await a.client.post('/account/sign-out-others')).location).toBe('/account');
      expect((await sql('SELECT id FROM sessions')).map((r: { id: string }) => r.id)).toEqual([a.sessionId]);
      expect((await c.client.get('/account')).location).toBe('/');
    });

    it('the account page says so next to the button', async () => {
      const { page } = await signUp();
      expect(/<p class="muted" id="recent-login">([\s\S]*?)<\/p>/.exec(page.body)![1]).toMatch(
        /needs a recent login: one from the last\s+5 minutes/,
      );
    });

    it('rotation keeps the login time: a freshly rotated token of an old login is still refused', async () => {
      const rotating = await startSample({ rotateEvery: '1s' });
      await rotating.listen(0, '127.0.0.1');
      try {
        const a = await signUp(undefined, await urlOf(rotating));
        await age(a.sessionId, 10);
        await a.client.get('/account');
        expect(a.client.cookies.get('auth_token')).not.toBe(a.token);
        expect((await a.client.post('/account/sign-out-everywhere')).status).toBe(401);
        expect(await sql('SELECT id FROM sessions')).toHaveLength(1);
      } finally {
        await rotating.close();
      }
    });
  });

  describe('API key scopes', () => {
    const api = (key: string) => ({ authorization: `Bearer ${key}` });

    it('the new-key form has a checkbox for each scope', async () => {
      const a = await signUp();
      const page = await a.client.get('/api-keys');
      const form = /<form class="card create-key" method="post" action="\/api-keys">([\s\S]*?)<\/form>/.exec(
        page.body,
      )![1];
      const boxes = [...form.matchAll(/<input type="checkbox" name="scopes" value="([^"]+)"/g)].map((m) => m[1]);
      expect(boxes).toEqual(['sessions:read', 'sessions:revoke']);
    });

    it('a key gets only the scopes ticked: it lists sessions, but revoking one (another scope) is a 403', async () => {
      const a = await signUp('Browser/A');
      const b = await logIn(a.userId, 'Browser/B');
      const reply = await a.client.post('/api-keys', { name: 'reader', scopes: ['sessions:read'] });
      const created = await a.client.follow(reply);
      expect(flashOf(created.body)).toMatch(/created with scopes sessions:read/);
      const key = /<pre id="new-key">([^<]+)</.exec(created.body)![1];
      expect(await sql('SELECT scopes FROM api_keys')).toEqual([{ scopes: ['sessions:read'] }]);
      expect(/<td data-label="Scopes" class="scopes">([\s\S]*?)<\/td>/.exec(created.body)![1]).toBe(
        '<code class="scope">sessions:read</code> ',
      );

      const list = await new Client(base).get('/api/sessions', api(key));
      expect(list.status).toBe(200);
      expect(
        list
          .json()
          .map((s: { id: string }) => s.id)
          .sort(),
      ).toEqual([a.sessionId, b.sessionId].sort());
      expect(list.json()[0]).toEqual({
        id: expect.any(String),
        device: expect.any(String),
        ip: '127.0.0.1',
        expired: false,
        inserted_at: expect.any(String),
        expires_at: expect.any(String),
      });
      expect(list.body).not.toContain('digest');

      const refused = await new Client(base).request('DELETE', `/api/sessions/${b.sessionId}`, { headers: api(key) });
      expect(refused.status).toBe(403);
      expect(refused.headers.get('www-authenticate')).toBe(
        'Bearer error="insufficient_scope", scope="sessions:revoke"',
      );
      expect(refused.json()).toEqual({
        statusCode: 403,
        error: 'insufficient_scope',
        message: expect.any(String),
        scopes: ['sessions:revoke'],
      });
      expect((await b.client.get('/account')).status).toBe(200);
    });

    it('a key with sessions:revoke signs a device out; not another user’s', async () => {
      const a = await signUp();
      const b = await logIn(a.userId);
      const stranger = await signUp();
      const key = await createKey(a.client, 'revoker', ['sessions:revoke']);
      const theirs = await new Client(base).request('DELETE', `/api/sessions/${stranger.sessionId}`, {
        headers: api(key),
      });
      expect(theirs.status).toBe(404);
      const mine = await new Client(base).request('DELETE', `/api/sessions/${b.sessionId}`, { headers: api(key) });
      expect(mine.status).toBe(204);
      expect((await b.client.get('/account')).location).toBe('/');
      expect((await stranger.client.get('/account')).status).toBe(200);
      // Without sessions:read it may not list them.
      expect((await new Client(base).get('/api/sessions', api(key))).status).toBe(403);
    });

    it('a key with no scope ticked calls /api/me (which needs none) but nothing scoped', async () => {
      const a = await signUp();
      const key = await createKey(a.client, 'plain');
      expect(await sql('SELECT scopes FROM api_keys')).toEqual([{ scopes: [] }]);
      expect((await new Client(base).get('/api/me', api(key))).json()).toMatchObject({
        is_logged_in: true,
        session: { kind: 'api_key', scopes: [] },
      });
      const refused = await new Client(base).get('/api/sessions', api(key));
      expect(refused.status).toBe(403);
      expect(refused.headers.get('www-authenticate')).toBe('Bearer error="insufficient_scope", scope="sessions:read"');
      expect(
        /<td data-label="Scopes" class="scopes">([\s\S]*?)<\/td>/.exec((await a.client.get('/api-keys')).body)![1],
      ).toBe('<span class="muted">none</span>');
    });

    it.each([['*'], ['admin'], ['sessions:read', 'sessions:write']])(
      'a hand-made scope list (%s …) is refused and makes no key',
      async (...scopes: string[]) => {
        const a = await signUp();
        const reply = await a.client.post('/api-keys', { name: 'sneaky', scopes });
        expect(reply.location).toBe('/api-keys');
        const page = await a.client.follow(reply);
        expect(flashTypeOf(page.body)).toBe('error');
        expect(flashOf(page.body)).toMatch(/Choose scopes among sessions:read, sessions:revoke/);
        expect(await sql('SELECT id FROM api_keys')).toEqual([]);
      },
    );

    it('the scoped routes take API keys only: a browser session token is a 401, and so is no token', async () => {
      const a = await signUp();
      for (const headers of [api(a.token), { 'x-auth-token': a.token }, {}] as Record<string, string>[]) {
        const reply = await new Client(base).get('/api/sessions', headers);
        expect(reply.status).toBe(401);
        expect(reply.headers.get('content-type')).toMatch(/^application\/json/);
      }
      const withCookie = new Client(base);
      withCookie.cookies.set('auth_token', a.token);
      expect((await withCookie.get('/api/sessions')).status).toBe(401);
    });
  });

  describe('API key last use (trackLastUsed)', () => {
    it('is recorded by the library at most once a minute, on /api/me and on the scoped routes', async () => {
      const a = await signUp();
      const key = await createKey(a.client, 'k', ['sessions:read']);
      const lastUsed = async () => (await sql('SELECT last_used_at, data FROM api_keys'))[0];
      expect((await lastUsed()).last_used_at).toBeNull();
      await new Client(base).get('/api/sessions', { 'x-auth-token': key });
      const first = await eventually(async () => (await lastUsed()).last_used_at, 'the first use is recorded');
      for (const path of ['/api/me', '/api/sessions', '/api/me']) {
        expect((await new Client(base).get(path, { 'x-auth-token': key })).status).toBe(200);
      }
      await new Promise((r) => setTimeout(r, 200));
      expect((await lastUsed()).last_used_at).toEqual(first);
      // The sample no longer keeps its own copy in `data`.
      expect((await lastUsed()).data).toEqual({ name: 'k' });
      const cell = /class="last-used"><time datetime="([^"]+)">/.exec((await a.client.get('/api-keys')).body)!;
      expect(cell[1]).toBe(new Date(first).toISOString());
    });
  });

  describe(`at most ${MAX_SESSIONS_PER_USER} browser sessions a user (maxPerUser)`, () => {
    const valid = async (userId: string) =>
      (
        await sql('SELECT id FROM sessions WHERE user_id = ? AND expires_at > now() ORDER BY inserted_at', [userId])
      ).map((r: { id: string }) => r.id);

    it('a login beyond the cap expires the oldest session, and the flash names its device', async () => {
      const [oldest, ...others] = DEVICES.slice(0, MAX_SESSIONS_PER_USER + 1);
      const a = await signUp(oldest[0]);
      const stranger = await signUp();
      const more: Awaited<ReturnType<typeof logIn>>[] = [];
      for (const [agent] of others.slice(0, -1)) more.push(await logIn(a.userId, agent));
      expect(await valid(a.userId)).toHaveLength(MAX_SESSIONS_PER_USER);
      for (const s of more) expect(flashOf(s.page.body)).not.toMatch(/signed out/);

      const last = await logIn(a.userId, others[others.length - 1][0]);
      const [{ inserted_at }] = await sql('SELECT inserted_at FROM sessions WHERE id = ?', [a.sessionId]);
      const when = new Date(inserted_at).toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
      expect(flashOf(last.page.body)).toBe(
        `You are logged in as ${a.userId}. You can be signed in on at most ${MAX_SESSIONS_PER_USER} devices, ` +
          `so the oldest session was signed out: ${oldest[1]} (127.0.0.1, signed in ${when}).`,
      );
      expect(await valid(a.userId)).toEqual([...more.map((s) => s.sessionId), last.sessionId]);
      // Expired, not deleted: listed as such, and that device is sent home.
      const rows = sessionRows(last.page.body);
      expect(rows).toHaveLength(MAX_SESSIONS_PER_USER + 1);
      expect(rows.find((r) => r.id === a.sessionId)).toMatchObject({ expired: true });
      expect((await a.client.get('/account')).location).toBe('/');
      expect(await valid(stranger.userId)).toEqual([stranger.sessionId]);
    });

    it('an expired or deleted session frees its slot: the next login signs no one out', async () => {
      const a = await signUp();
      const others: Awaited<ReturnType<typeof logIn>>[] = [];
      for (let i = 1; i < MAX_SESSIONS_PER_USER; i++) others.push(await logIn(a.userId));
      await a.client.post(`/account/sessions/${others[0].sessionId}/expire`);
      await a.client.post(`/account/sessions/${others[1].sessionId}/delete`);
      const first = await logIn(a.userId);
      const second = await logIn(a.userId);
      expect(flashOf(first.page.body)).toBe(`You are logged in as ${a.userId}.`);
      expect(flashOf(second.page.body)).toBe(`You are logged in as ${a.userId}.`);
      expect(await valid(a.userId)).toHaveLength(MAX_SESSIONS_PER_USER);
      expect((await a.client.get('/account')).status).toBe(200);
    });

    it('the account page states the cap', async () => {
      const { page } = await signUp();
      expect(/<p class="muted" id="session-cap">([\s\S]*?)<\/p>/.exec(page.body)![1]).toMatch(
        new RegExp(`at most ${MAX_SESSIONS_PER_USER} devices at once: a login beyond that signs out the oldest`),
      );
    });

    it('API keys have no cap', async () => {
      const a = await signUp();
      for (let i = 0; i <= MAX_SESSIONS_PER_USER; i++) await createKey(a.client, `k${i}`);
      expect(await sql('SELECT id FROM api_keys WHERE expires_at IS NULL')).toHaveLength(MAX_SESSIONS_PER_USER + 1);
    });
  });

  describe('error pages and the icon', () => {
    it('an unknown URL is an HTML 404 page in the layout, as the other error pages are', async () => {
      for (const method of ['GET', 'POST']) {
        const reply = await new Client(base).request(method, '/no/such/page');
        expect(reply.status).toBe(404);
        expect(reply.headers.get('content-type')).toMatch(/^text\/html/);
        expect(reply.body).toContain('<h1>404 · Not Found</h1>');
        expect(reply.body).toContain('<code>/no/such/page</code>');
        expect(reply.body).toContain('href="/assets/style.css"');
        expect(reply.body).toContain('<a href="/">Back home</a>');
      }
    });

    it('a 404 shows no markup from the URL', async () => {
      const reply = await new Client(base).get('/%3Cscript%3Ealert(1)%3C/script%3E');
      expect(reply.status).toBe(404);
      expect(reply.body).not.toContain('<script>');
    });

    it('a missing stylesheet is a 404 too', async () => {
      expect((await new Client(base).get('/assets/nope.css')).status).toBe(404);
    });

    it('the JSON API keeps JSON errors: an unknown /api route is a JSON 404', async () => {
      const reply = await new Client(base).get('/api/nope');
      expect(reply.status).toBe(404);
      expect(reply.headers.get('content-type')).toMatch(/^application\/json/);
      expect(reply.json()).toEqual({ statusCode: 404, message: 'Cannot GET /api/nope', error: 'Not Found' });
    });

    it("a page's own 404 has a readable title", async () => {
      const me = await signUp();
      const reply = await me.client.post('/account/sessions/00000000-0000-4000-8000-000000000000/delete');
      expect(reply.status).toBe(404);
      expect(reply.body).toContain('<h1>404 · Not Found</h1>');
      expect(reply.body).toContain('No such session.');
    });

    it('a server error on a page is an HTML 500 page that tells nothing of its cause', async () => {
      const me = await signUp();
      await sql('ALTER TABLE users RENAME TO users_away');
      try {
        const reply = await me.client.get('/account');
        expect(reply.status).toBe(500);
        expect(reply.headers.get('content-type')).toMatch(/^text\/html/);
        expect(reply.body).toContain('<h1>500 · Internal Server Error</h1>');
        expect(reply.body).not.toMatch(/users|relation|does not exist/);
      } finally {
        await sql('ALTER TABLE users_away RENAME TO users');
      }
    });

    it('a malformed body is an HTML 400 on a page, and JSON under /api', async () => {
      const bad = { headers: { 'content-type': 'application/json' }, body: '{"user_id":' };
      const page = await fetch(base + '/login', { method: 'POST', ...bad });
      expect(page.status).toBe(400);
      expect(await page.text()).toContain('<h1>400 · Bad Request</h1>');
      const api = await fetch(base + '/api/me', { method: 'POST', ...bad });
      expect(api.status).toBe(400);
      expect(await api.json()).toMatchObject({ statusCode: 400 });
    });

    it('serves the icon the layout links, and /favicon.ico for browsers that ask for it anyway', async () => {
      const client = new Client(base);
      for (const page of ['/', '/stats', '/no/such/page']) {
        const href = /<link rel="icon" href="([^"]+)"/.exec((await client.get(page)).body)?.[1];
        expect(href).toBe('/assets/favicon.svg');
      }
      const svg = await client.get('/assets/favicon.svg');
      expect(svg.status).toBe(200);
      expect(svg.headers.get('content-type')).toMatch(/^image\/svg\+xml/);
      expect(svg.body).toMatch(/^<svg /);
      const ico = await fetch(base + '/favicon.ico');
      expect(ico.status).toBe(200);
      expect(ico.headers.get('content-type')).toMatch(/^image\/(x-icon|vnd\.microsoft\.icon)/);
      // An ICO file: reserved 0, type 1 (icon), at least one image.
      const head = Buffer.from(await ico.arrayBuffer()).subarray(0, 6);
      expect([head.readUInt16LE(0), head.readUInt16LE(2), head.readUInt16LE(4) > 0]).toEqual([0, 1, true]);
    });
  });

  describe('stats', () => {
    it('counts total, active and expired rows of both kinds', async () => {
      const a = await signUp();
      const b = await logIn(a.userId);
      await logIn(a.userId);
      await a.client.post(`/account/sessions/${b.sessionId}/expire`);
      await a.client.post('/api-keys', { name: 'k' });
      const page = await new Client(base).get('/stats');
      expect(page.status).toBe(200);
      const numbers = (cls: string) =>
        [...page.body.matchAll(new RegExp(`class="${cls}">(\\d+)<`, 'g'))].map((m) => Number(m[1]));
      expect(numbers('total')).toEqual([3, 1]);
      expect(numbers('active')).toEqual([2, 1]);
      expect(numbers('expired')).toEqual([1, 0]);
    });
  });

  describe('GET /api/me', () => {
    it('without a token: not logged in', async () => {
      const reply = await new Client(base).get('/api/me');
      expect(reply.status).toBe(200);
      expect(reply.json()).toEqual({ is_logged_in: false });
    });

    it.each([
      ['X-Auth-Token', (t: string) => ({ 'x-auth-token': t })],
      ['a bearer token', (t: string) => ({ authorization: `Bearer ${t}` })],
    ])('with a session token in %s: the user and the session', async (_how, header) => {
      const a = await signUp();
      const reply = await new Client(base).get('/api/me', header(a.token));
      expect(reply.json()).toEqual({
        is_logged_in: true,
        user: { id: a.userId, created_at: expect.any(String) },
        session: {
          id: a.sessionId,
          kind: 'session',
          expires_at: expect.any(String),
          inserted_at: expect.any(String),
          updated_at: expect.any(String),
        },
      });
      expect(reply.body).not.toContain('digest');
    });

    it('with an unknown, malformed or expired token: not logged in', async () => {
      const a = await signUp();
      await a.client.post(`/account/sessions/${a.sessionId}/expire`);
      for (const token of [a.token, 'x'.repeat(64), 'short', '']) {
        expect((await new Client(base).get('/api/me', { 'x-auth-token': token })).json()).toEqual({
          is_logged_in: false,
        });
      }
    });
  });
});
