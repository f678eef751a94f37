import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { installLines, quickStart, readReadme } from './support/readme';
import { freePort } from './support/http';
import { installApp, layOut, packLibrary, run, type RunningApp, startNodeApp } from './support/packed-app';

/**
 * The README's Quick start as a user meets it: its files (the code blocks marked
 * `// file: PATH`) in a fresh folder, `npm init -y`, the packed tarball with the
 * README's Node 20 install line exactly as written plus its `npm install -D` line,
 * then the README's build command (`npx tsc`) and `node dist/main.js` on
 * DATABASE_URL (the real server, or the embedded PGlite over its socket). Then the
 * routes over HTTP: login, me, the user's sessions (403 for another user's),
 * API keys, logout-others, logout.
 */
const readme = readReadme();
const quick = quickStart(readme);
const nodeMajor = Number(process.versions.node.split('.')[0]);
/** The install line of this Node (the main stack: Node 20). */
const installLine = installLines(readme).find((line) => line.node === nodeMajor);

interface Reply {
  status: number;
  body: any;
  setCookies: string[];
}

describe('README Quick start, built from the packed library and run', () => {
  let scratch: string;
  let appDir: string;
  let app: RunningApp | undefined;

  const request = async (method: string, path: string, headers: Record<string, string> = {}, body?: unknown) => {
    const response = await fetch(app!.url + path, {
      method,
      headers: { ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON
    }
    return { status: response.status, body: parsed, setCookies: response.headers.getSetCookie() } as Reply;
  };
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  beforeAll(async () => {
    expect(installLine).toBeDefined(); // an Install line for this Node major
    expect(quick.devInstall).toHaveLength(1);
    expect(quick.build).toEqual(['npx tsc']);
    expect(quick.start).toHaveLength(1);
    scratch = mkdtempSync(join(tmpdir(), 'readme-quickstart-'));
    const started = Date.now();
    const tarball = packLibrary(scratch);
    const installed = installApp(tarball, [installLine!.args, quick.devInstall[0]]);
    appDir = installed.dir;
    console.info(
      `readme-quickstart: ${installed.reused ? 'reused the app installed' : 'installed'} in ${appDir} ` +
        `(${Math.round((Date.now() - started) / 1000)} s): npm install ${installLine!.args.join(' ')}` +
        installed.notes.map((note) => `\n  ${note}`).join(''),
    );
    layOut(appDir, quick.files);
  }, 600_000);

  afterAll(async () => {
    await app?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it("the README's files compile with the README's build command", () => {
    const [command, ...args] = quick.build[0].split(/\s+/);
    run(command, args, appDir);
    expect(readFileSync(join(appDir, 'dist/main.js'), 'utf8')).toContain('AppModule');
  }, 120_000);

  it('the installed package ships its source maps with their sources', () => {
    const map = JSON.parse(readFileSync(join(appDir, 'node_modules/nestjs-ecto-sessions/dist/index.js.map'), 'utf8'));
    expect(map.sourcesContent?.length).toBe(map.sources.length);
    expect(map.sourcesContent[0]).toContain('export');
  });

  it('starts on DATABASE_URL and creates its own tables', async () => {
    // No table to begin with: the app's start-up must create them.
    const pg = new Client({ connectionString: process.env.DATABASE_URL });
    await pg.connect();
    try {
      await pg.query('DROP TABLE IF EXISTS "sessions", "api_keys" CASCADE');
    } finally {
      await pg.end();
    }
    const start = quick.start[0].split(/\s+/).slice(1); // `node dist/main.js` without the DATABASE_URL=…
    expect(start[0]).toBe('node');
    app = await startNodeApp(appDir, start.slice(1), await freePort(), {
      DATABASE_URL: process.env.DATABASE_URL,
      ADMIN_USER_IDS: 'root',
    });
    expect((await request('GET', '/me')).status).toBe(401);
  }, 120_000);

  it("login, me, my sessions (not another user's), API keys, logout-others, logout", async () => {
    expect(app).toBeDefined();
    // A browser: the token comes back in a cookie that plain http can carry (not Secure).
    const browser = await request('POST', '/login', { 'user-agent': 'browser' }, { userId: 'alice' });
    expect(browser.status).toBe(201);
    expect(typeof browser.body.token).toBe('string');
    const setCookie = browser.setCookies.find((c) => c.startsWith('auth_token='))!;
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).not.toMatch(/;\s*Secure/i);
    const cookie = { cookie: setCookie.split(';')[0] };
    // An API client: the same route, the token in the body, sent back as a bearer token.
    const phone = (await request('POST', '/login', { 'user-agent': 'phone' }, { userId: 'alice' })).body.token;

    expect(await request('GET', '/me', cookie)).toMatchObject({ status: 200, body: { userId: 'alice' } });
    expect(await request('GET', '/me', bearer(phone))).toMatchObject({ status: 200, body: { userId: 'alice' } });
    expect((await request('GET', '/me', bearer('x'.repeat(64)))).status).toBe(401);

    // Her own sessions and stats; nobody else's.
    const mine = await request('GET', '/users/alice/sessions', cookie);
    expect(mine.status).toBe(200);
    expect(mine.body.map((s: { data: { userAgent: string } }) => s.data.userAgent).sort()).toEqual([
      'browser',
      'phone',
    ]);
    expect(JSON.stringify(mine.body)).not.toContain(browser.body.token);
    await request('POST', '/login', {}, { userId: 'bob' });
    expect((await request('GET', '/users/bob/sessions', cookie)).status).toBe(403);
    expect((await request('GET', '/users/bob/stats', cookie)).status).toBe(403);
    expect(await request('GET', '/users/alice/stats', cookie)).toMatchObject({ status: 200, body: { active: 2 } });
    // An admin (ADMIN_USER_IDS) reads anyone's.
    const root = (await request('POST', '/login', {}, { userId: 'root' })).body.token;
    expect((await request('GET', '/users/alice/sessions', bearer(root))).body).toHaveLength(2);
    expect(await request('GET', '/users/bob/stats', bearer(root))).toMatchObject({ status: 200, body: { active: 1 } });

    // The second kind: an API key works where a session token does not, and the other way round.
    const key = await request('POST', '/api-keys', cookie);
    expect(key.status).toBe(201);
    expect(await request('GET', '/api/whoami', bearer(key.body.apiKey))).toMatchObject({
      status: 200,
      body: { userId: 'alice' },
    });
    expect((await request('GET', '/api/whoami', bearer(phone))).status).toBe(401);
    expect((await request('GET', '/me', bearer(key.body.apiKey))).status).toBe(401);
    expect((await request('GET', '/users/alice/stats', cookie)).body).toMatchObject({ active: 2, apiKeys: 1 });

    // Sign out everywhere else: the phone is out, the browser still in.
    expect(await request('POST', '/logout-others', cookie)).toMatchObject({ status: 201, body: { signedOut: 1 } });
    expect((await request('GET', '/me', bearer(phone))).status).toBe(401);
    expect((await request('GET', '/me', cookie)).status).toBe(200);

    // Sign out: the cookie is cleared and the token refused.
    const out = await request('POST', '/logout', cookie);
    expect(out.status).toBe(201);
    expect(out.setCookies.find((c) => c.startsWith('auth_token='))).toMatch(/Max-Age=0/i);
    expect((await request('GET', '/me', cookie)).status).toBe(401);
    expect((await request('GET', '/users/alice/sessions', bearer(root))).body).toHaveLength(0);
  }, 60_000);
});
