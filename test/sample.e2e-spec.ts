import type { INestApplication } from '@nestjs/common';
import { MikroORM } from '@mikro-orm/core';
import { getSessionsToken, type SessionsService } from 'nestjs-ecto-sessions';
import { createSampleApp } from '../sample/app.factory';
import { API_KEYS, type ApiKeyData } from '../sample/sessions.config';

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
    options: { form?: Record<string, string>; headers?: Record<string, string> } = {},
  ): Promise<Reply> {
    const headers: Record<string, string> = { 'user-agent': this.userAgent, ...options.headers };
    const cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    if (cookie) headers.cookie = cookie;
    if (options.form) headers['content-type'] = 'application/x-www-form-urlencoded';
    const res = await fetch(this.base + path, {
      method,
      headers,
      redirect: 'manual',
      body: options.form ? new URLSearchParams(options.form).toString() : undefined,
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
  async post(path: string, fields: Record<string, string> = {}): Promise<Reply> {
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
    app = await createSampleApp({
      databaseUrl: process.env.DATABASE_URL!,
      singleConnection: process.env.TEST_DATABASE_KIND === 'pglite',
      // Off here: a prune between two steps would remove the expired rows a test looks at.
      pruneInterval: null,
      logger: false,
    });
    orm = app.get(MikroORM);
    // Other suites share the database and make a `sessions` table of their own shape.
    await orm.schema.dropSchema();
    await orm.schema.createSchema();
    await app.listen(0, '127.0.0.1');
    base = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  });
  afterAll(() => app.close());
  beforeEach(async () => {
    await sql('DELETE FROM api_keys');
    await sql('DELETE FROM sessions');
    await sql('DELETE FROM users');
  });

  /** Signs up in a new client; returns it with the user id and the session's token and id. */
  async function signUp(userAgent?: string) {
    const client = new Client(base, userAgent);
    const signup = await client.post('/signup');
    expect(signup.location).toBe('/account');
    const page = await client.follow(signup);
    const userId = /id="user-id">([^<]+)</.exec(page.body)![1];
    return { client, userId, token: client.cookies.get('auth_token')!, sessionId: sessionRows(page.body)[0].id, page };
  }

  /** Creates an API key through the page; returns the key it shows once. */
  async function createKey(client: Client, name: string): Promise<string> {
    const page = await client.follow(await client.post('/api-keys', { name }));
    return /<pre id="new-key">([^<]+)</.exec(page.body)![1];
  }

  /** Logs in as an existing user in a new client. */
  async function logIn(userId: string, userAgent?: string) {
    const client = new Client(base, userAgent);
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
    const other = await createSampleApp({
      databaseUrl: process.env.DATABASE_URL!,
      singleConnection: process.env.TEST_DATABASE_KIND === 'pglite',
      pruneInterval: null,
      logger: false,
    });
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

  it('prunes sessions an hour past their expiry, on its interval; more recently expired ones stay listed', async () => {
    const pruning = await createSampleApp({
      databaseUrl: process.env.DATABASE_URL!,
      singleConnection: process.env.TEST_DATABASE_KIND === 'pglite',
      pruneInterval: '1s',
      logger: false,
    });
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
      expect(/class="last-used">([^<]+)</.exec((await a.client.get('/api-keys')).body)![1]).toMatch(/UTC$/);
    });

    it('writes the last use at most once a minute', async () => {
      const a = await signUp();
      const key = await createKey(a.client, 'k');
      await new Client(base).get('/api/me', { 'x-auth-token': key });
      const [first] = await sql('SELECT data FROM api_keys');
      await new Client(base).get('/api/me', { 'x-auth-token': key });
      const [second] = await sql('SELECT data FROM api_keys');
      expect(second.data.lastUsedAt).toBe(first.data.lastUsedAt);
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
