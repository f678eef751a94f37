import { existsSync, mkdirSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { MikroORM } from '@mikro-orm/core';
import { type Browser, chromium, type Locator, type Page, request } from 'playwright-core';
import { SessionsService } from 'nestjs-ecto-sessions';
import { createSampleApp } from '../sample/app.factory';

/**
 * The sample in a real browser: Debian's Chromium driven by playwright-core.
 * The machine has no internet, so Chromium is told not to reach out.
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const ARTIFACTS = join(__dirname, 'artifacts');
/** Set UPDATE_SCREENSHOTS=1 to refresh the README's picture as well. */
const DOCS_SCREENSHOT = join(__dirname, '..', 'docs', 'account.png');

/** Phones' CSS widths: small Androids, most iPhones, the large iPhones. */
const PHONE_WIDTHS = [360, 390, 414];
/** A tablet held upright: between phone and desktop, where the sessions table is still too wide to be a table. */
const TABLET_WIDTH = 768;
const PHONE_UA =
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.6478.71 Mobile Safari/537.36';
/** A user agent no parser knows, long and without spaces: the device column must not push the page wider. */
const ODD_UA = 'Custom-HTTP-Client/' + 'x'.repeat(120);
/** The longest key name the form takes (60 characters), without a space to break at. */
const LONG_KEY_NAME = 'deploy-script-for-the-production-cluster-in-eu-west-1-backup';

interface Layout {
  scrollWidth: number;
  /** Nav links whose text runs onto a second line. */
  wrappedLinks: string[];
  /** Buttons, links and fields that reach past either side of the screen. */
  offScreen: string[];
}

/** Runs in the page (playwright sends its source): no DOM types here, hence `any`. */
function measureLayout(): Layout {
  const doc = (globalThis as any).document;
  const width: number = doc.documentElement.clientWidth;
  const label = (el: any) => `${el.tagName.toLowerCase()} "${(el.textContent || el.value || el.name || '').trim()}"`;
  return {
    scrollWidth: doc.documentElement.scrollWidth,
    wrappedLinks: [...doc.querySelectorAll('nav a')]
      .filter((a: any) => {
        const range = doc.createRange();
        range.selectNodeContents(a);
        const tops = [...range.getClientRects()].map((r: any) => r.top);
        return tops.length > 0 && Math.max(...tops) - Math.min(...tops) > 4;
      })
      .map((a: any) => a.textContent.trim()),
    offScreen: [...doc.querySelectorAll('button, a, input:not([type="hidden"]), label')]
      .filter((el: any) => {
        const r = el.getBoundingClientRect();
        return r.width > 0 && (r.left < -0.5 || r.right > width + 0.5);
      })
      .map(label),
  };
}

const present = existsSync(CHROMIUM);
if (!present && !process.env.CI) {
  console.warn(`Skipping the browser test: no Chromium at ${CHROMIUM} (apt-get install chromium). CI always runs it.`);
}

(present || process.env.CI ? describe : describe.skip)('sample app in Chromium', () => {
  jest.setTimeout(120_000);
  let app: INestApplication;
  let browser: Browser;
  let base: string;
  /** Every response the server sent, including those the page's events do not show (the browser's own favicon request). */
  const served: { path: string; status: number }[] = [];
  /** Responses of 400 and up, but for the pages a test visits on purpose to see them fail. */
  const failed = (...expected: string[]) =>
    served.filter((r) => r.status >= 400 && !expected.includes(r.path)).map((r) => `${r.status} ${r.path}`);

  beforeAll(async () => {
    if (!present) throw new Error(`The browser test needs Chromium at ${CHROMIUM}: apt-get install -y chromium`);
    app = await createSampleApp({
      databaseUrl: process.env.DATABASE_URL!,
      singleConnection: process.env.TEST_DATABASE_KIND === 'pglite',
      pruneInterval: null,
      logger: false,
    });
    // Other suites share the database and make a `sessions` table of their own shape.
    const orm = app.get(MikroORM);
    await orm.schema.dropSchema();
    await orm.schema.createSchema();
    // On the server itself, ahead of express: static files never reach an `app.use` added here.
    // Express's mounts rewrite `req.url` (/assets/x.css becomes /x.css); `originalUrl` is what was asked.
    app.getHttpServer().on('request', (req: IncomingMessage & { originalUrl?: string }, res: ServerResponse) => {
      res.on('finish', () => served.push({ path: req.originalUrl ?? req.url!, status: res.statusCode }));
    });
    await app.listen(0, '127.0.0.1');
    base = (await app.getUrl()).replace('[::1]', '127.0.0.1');
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
  });
  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  /** Clicks the submit button with this label (within a row, if given) and waits for the page it leads to. */
  async function submit(page: Page, label: string, scope: Page | Locator = page): Promise<void> {
    const navigated = page.waitForEvent('framenavigated', (frame) => frame === page.mainFrame());
    await scope.getByRole('button', { name: label, exact: true }).click();
    await navigated;
    await page.waitForLoadState('load');
  }

  /**
   * Submits a form as its button would, without aiming a click: on a page too wide for a phone, the zoomed-out
   * page puts other elements under the pointer, and the test is there to measure that page, not to stop at it.
   */
  async function send(page: Page, form: string): Promise<void> {
    const navigated = page.waitForEvent('framenavigated', (frame) => frame === page.mainFrame());
    await page.locator(form).evaluate((f) => f.requestSubmit());
    await navigated;
    await page.waitForLoadState('load');
  }

  const flash = (page: Page) => page.locator('.flash').textContent();
  const path = (page: Page) => new URL(page.url()).pathname;
  beforeEach(() => {
    served.length = 0;
  });

  /**
   * Waits until the browser has fetched the page's icon: the one its `<link rel="icon">` names or, without one,
   * `/favicon.ico`. Browsers fetch it on their own, after the page has loaded.
   */
  async function iconFetched(page: Page): Promise<{ path: string; status: number }> {
    const href = await page
      .locator('link[rel="icon"]')
      .first()
      .getAttribute('href', { timeout: 1000 })
      .catch(() => null);
    const icon = href ? new URL(href, page.url()).pathname : '/favicon.ico';
    for (let i = 0; i < 50; i++) {
      const seen = served.find((r) => r.path === icon || r.path === '/favicon.ico');
      if (seen) return seen;
      await page.waitForTimeout(100);
    }
    throw new Error(`The browser never fetched ${icon}`);
  }

  /** Logs the user in from a client with this user agent, as another device would. */
  async function logInElsewhere(userId: string, userAgent: string): Promise<void> {
    const client = await request.newContext({ baseURL: base, userAgent });
    await client.get('/');
    const csrf = (await client.storageState()).cookies.find((c) => c.name === 'csrf_token')!.value;
    const login = await client.post('/login', { form: { _csrf: csrf, user_id: userId }, maxRedirects: 0 });
    expect(login.headers().location).toBe('/account');
    await client.dispose();
  }

  // This test comes first: Chromium does not ask again for an icon that failed earlier in the same browser,
  // so after another test had met the 404 it would see no request at all.
  it('the pages have an icon: the browser fetches it, and nothing it asks for is missing', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    for (const url of ['/', '/stats']) {
      await page.goto(base + url);
      expect(await iconFetched(page)).toMatchObject({ status: 200 });
    }
    await context.close();
    expect(failed()).toEqual([]);
  });

  it('signs up, shares the account with a second browser, revokes it, uses an API key and signs out everywhere', async () => {
    // Sign up in a first browser: the account page, with the token shown once.
    const first = await browser.newContext({ viewport: { width: 1000, height: 640 } });
    const a = await first.newPage();
    await a.goto(base + '/');
    await submit(a, 'Create a user');
    expect(path(a)).toBe('/account');
    const userId = (await a.locator('#user-id').textContent())!;
    expect(userId).toMatch(/^[0-9a-f-]{36}$/);
    const cookie = (await first.cookies()).find((c) => c.name === 'auth_token')!;
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax' });
    expect(await a.locator('#token').textContent()).toBe(cookie.value);
    const rowsOf = (page: Page) => page.locator('tr[data-session-id]');
    expect(await rowsOf(a).count()).toBe(1);
    expect(await a.locator('tr.current .badge').textContent()).toBe('this browser');
    // The device column reads the user agent (HeadlessChrome on Linux here) rather than showing it raw.
    expect(await a.locator('tr.current td.device').textContent({ timeout: 5000 })).toBe('Chrome on Linux');

    // A second browser logs in as the same user.
    const second = await browser.newContext();
    const b = await second.newPage();
    await b.goto(base + '/');
    await b.getByLabel('User id').fill(userId);
    await submit(b, 'Log in');
    expect(path(b)).toBe('/account');
    const bSession = (await b.locator('tr.current').getAttribute('data-session-id'))!;
    expect(await rowsOf(b).count()).toBe(2);

    // From the first: expire the second's session, then delete it.
    await a.reload();
    expect(await rowsOf(a).count()).toBe(2);
    const bRow = a.locator(`tr[data-session-id="${bSession}"]`);
    await submit(a, 'Expire', bRow);
    expect(await flash(a)).toMatch(/expired/);
    expect(await bRow.locator('.badge-expired').count()).toBe(1);
    mkdirSync(ARTIFACTS, { recursive: true });
    await a.screenshot({ path: join(ARTIFACTS, 'account.png'), fullPage: true });
    if (process.env.UPDATE_SCREENSHOTS) await a.screenshot({ path: DOCS_SCREENSHOT, fullPage: true });
    await submit(a, 'Delete', bRow);
    expect(await bRow.count()).toBe(0);
    expect(await rowsOf(a).count()).toBe(1);

    // The second browser's next request sends it home.
    await b.reload();
    expect(path(b)).toBe('/');
    expect(await flash(b)).toMatch(/session has ended/);
    expect((await second.cookies()).some((c) => c.name === 'auth_token')).toBe(false);
    // The log-in form remembers the last user id.
    expect(await b.getByLabel('User id').inputValue()).toBe(userId);

    // An API key, shown once, calls /api/me from outside the browser.
    await a.getByRole('link', { name: 'API keys' }).click();
    await a.waitForURL('**/api-keys');
    await a.getByLabel('Name').fill('playwright');
    await submit(a, 'Create key');
    const key = (await a.locator('#new-key').textContent())!;
    const api = await request.newContext({ baseURL: base });
    const me = await (await api.get('/api/me', { headers: { 'X-Auth-Token': key } })).json();
    expect(me).toMatchObject({
      is_logged_in: true,
      user: { id: userId },
      session: { kind: 'api_key', name: 'playwright' },
    });
    await a.reload();
    expect(await a.locator('#new-key').count()).toBe(0);
    expect(await a.locator('tr[data-key-id] .last-used').textContent()).toMatch(/UTC$/);

    // Sign out everywhere: this browser is home, its session gone; the key is not a browser session and stays.
    await a.goto(base + '/account');
    await submit(a, 'Sign out everywhere');
    expect(path(a)).toBe('/');
    expect(await flash(a)).toMatch(/Signed out everywhere/);
    await a.goto(base + '/account');
    expect(path(a)).toBe('/');
    expect(await (await first.request.get(base + '/api/me')).json()).toEqual({ is_logged_in: false });
    expect(
      (await (await api.get('/api/me', { headers: { Authorization: `Bearer ${key}` } })).json()).is_logged_in,
    ).toBe(true);

    await api.dispose();
    await first.close();
    await second.close();
    // Nothing the browsers asked for was missing or refused.
    expect(failed()).toEqual([]);
  });

  it('scopes and last use of API keys, a rotated cookie, a recent login to sign out everywhere, and the cap on sessions', async () => {
    const sql = (query: string, params: unknown[] = []) =>
      app.get(MikroORM).em.getConnection().execute(query, params, 'all');
    const context = await browser.newContext({ viewport: { width: 1000, height: 640 } });
    const a = await context.newPage();
    await a.goto(base + '/');
    await submit(a, 'Create a user');
    const userId = (await a.locator('#user-id').textContent())!;
    const sessionId = (await a.locator('tr.current').getAttribute('data-session-id'))!;
    const token = async () => (await context.cookies()).find((c) => c.name === 'auth_token')?.value;
    const first = await token();
    expect(await a.locator('#rotation').textContent()).toMatch(/issued at login/);

    // An API key with one scope ticked: it lists the sessions, but signing one out needs the other scope.
    await a.goto(base + '/api-keys');
    await a.getByLabel('Name').fill('reader');
    await a.getByRole('checkbox', { name: /sessions:read/ }).check();
    await submit(a, 'Create key');
    expect(await flash(a)).toMatch(/created with scopes sessions:read\./);
    const key = (await a.locator('#new-key').textContent())!;
    const keyRow = a.locator('tr[data-key-id]');
    expect(await keyRow.locator('.scopes').textContent()).toBe('sessions:read ');
    expect(await keyRow.locator('.last-used').textContent()).toBe('never');
    const api = await request.newContext({ baseURL: base, extraHTTPHeaders: { Authorization: `Bearer ${key}` } });
    const listed = await api.get('/api/sessions');
    expect(listed.status()).toBe(200);
    expect((await listed.json()).map((s: { id: string }) => s.id)).toEqual([sessionId]);
    const refused = await api.delete(`/api/sessions/${sessionId}`);
    expect(refused.status()).toBe(403);
    expect(refused.headers()['www-authenticate']).toBe('Bearer error="insufficient_scope", scope="sessions:revoke"');
    // Its use shows on the list (recorded by the library, possibly just after the answer).
    for (let i = 0; i < 20 && (await keyRow.locator('.last-used time').count()) === 0; i++) {
      await a.waitForTimeout(100);
      await a.reload();
    }
    expect(await keyRow.locator('.last-used').textContent()).toMatch(/UTC$/);

    // A login 20 minutes ago: the token is older than the 15 minutes of `rotation.every`, so the
    // next page gets a new one in its cookie. The replaced token still works for a minute.
    await sql(`UPDATE sessions SET inserted_at = inserted_at - interval '20 minutes' WHERE id = ?`, [sessionId]);
    await a.goto(base + '/account');
    const second = await token();
    expect(second).toMatch(/^[A-Za-z0-9_-]{64}$/);
    expect(second).not.toBe(first);
    expect(await a.locator('tr.current').getAttribute('data-session-id')).toBe(sessionId);
    expect(await a.locator('#rotation').textContent()).toMatch(/last replaced/);
    const tab = await request.newContext({ baseURL: base, extraHTTPHeaders: { Cookie: `auth_token=${first}` } });
    expect((await tab.get('/account', { maxRedirects: 0 })).status()).toBe(200);
    await tab.dispose();

    // Rotation kept the login time: signing out everywhere asks to log in again, and says why.
    await a.getByLabel('Also revoke all API keys').check();
    await submit(a, 'Sign out everywhere');
    expect(path(a)).toBe('/account/sign-out-everywhere');
    expect(await a.locator('h1').textContent()).toBe('Log in again');
    expect(await a.locator('#reauthenticate').textContent()).toMatch(
      /Sign out everywhere needs a recent login: one from the last 5 minutes/,
    );
    expect(await token()).toBe(second);
    expect((await api.get('/api/sessions')).status()).toBe(200);
    await a.getByLabel('User id').fill(userId);
    await submit(a, 'Log in again');
    expect(path(a)).toBe('/account');
    expect(await flash(a)).toBe(`You are logged in as ${userId}.`);
    expect(await a.locator('tr[data-session-id]').count()).toBe(2);

    // Three more devices make five sessions, the most a user may have; a sixth login signs out the oldest
    // (this browser's first session), and its flash names that device.
    await logInElsewhere(userId, 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0');
    await logInElsewhere(userId, PHONE_UA);
    await logInElsewhere(userId, 'curl/8.5.0');
    const phone = await browser.newContext({
      viewport: { width: 390, height: 800 },
      isMobile: true,
      userAgent: PHONE_UA,
    });
    const p = await phone.newPage();
    await p.goto(base + '/');
    await p.getByLabel('User id').fill(userId);
    await submit(p, 'Log in');
    expect(await flash(p)).toMatch(
      /You can be signed in on at most 5 devices, so the oldest session was signed out: Chrome on Linux \(127\.0\.0\.1, signed in \d{4}-\d\d-\d\d \d\d:\d\d UTC\)\.$/,
    );
    await a.reload();
    expect(await a.locator(`tr[data-session-id="${sessionId}"] .badge-expired`).count()).toBe(1);
    expect(await a.locator('tr[data-session-id]:not(.expired)').count()).toBe(5);

    // Now the login is recent: sign out everywhere goes through, and the box revokes the key too.
    await a.getByLabel('Also revoke all API keys').check();
    await submit(a, 'Sign out everywhere');
    expect(path(a)).toBe('/');
    expect(await flash(a)).toMatch(/Signed out everywhere: 6 sessions deleted, 1 API key revoked/);
    expect((await api.get('/api/sessions')).status()).toBe(401);
    await p.reload();
    expect(path(p)).toBe('/');

    await api.dispose();
    await phone.close();
    await context.close();
    expect(failed('/account/sign-out-everywhere', `/api/sessions/${sessionId}`, '/api/sessions')).toEqual([]);
  });

  it.each([...PHONE_WIDTHS.map((width) => [width, 'a phone'] as const), [TABLET_WIDTH, 'a tablet'] as const])(
    'at %i px wide (%s) every page fits the screen: no sideways scrolling, nav on one line',
    async (width) => {
      const context = await browser.newContext({
        viewport: { width, height: 800 },
        isMobile: true,
        hasTouch: true,
        userAgent: PHONE_UA,
      });
      const page = await context.newPage();
      const shots = join(ARTIFACTS, `phone-${width}`);
      mkdirSync(shots, { recursive: true });
      const problems: string[] = [];
      /** Measures the page as it is and saves its picture (test/artifacts/phone-WIDTH/NAME.png). */
      const check = async (name: string) => {
        const layout = await page.evaluate(measureLayout);
        if (layout.scrollWidth > width) problems.push(`${name}: the page is ${layout.scrollWidth} px wide`);
        for (const link of layout.wrappedLinks) problems.push(`${name}: the nav link "${link}" wraps`);
        for (const el of layout.offScreen) problems.push(`${name}: ${el} is off-screen`);
        await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
      };

      await page.goto(base + '/');
      await check('home');
      await page.goto(base + '/account');
      expect(path(page)).toBe('/');
      await check('home-sign-in-first');

      // The account page at its fullest: the token shown once, then rows of other devices, one expired.
      await send(page, 'form[action="/signup"]');
      expect(path(page)).toBe('/account');
      await check('account-new-token');
      const userId = (await page.locator('#user-id').textContent())!;
      await logInElsewhere(userId, ODD_UA);
      await logInElsewhere(userId, 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0');
      await logInElsewhere(userId, 'Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148');
      const sessions = app.get<SessionsService<{ userAgent: string }>>(SessionsService);
      const iPad = (await sessions.list({ userId })).find((s) => s.data.userAgent.includes('iPad'))!;
      await sessions.expire(iPad);
      await page.goto(base + '/account');
      expect(await page.locator('tr[data-session-id]').count()).toBe(4);
      await check('account');

      // The page that asks for a recent login (this login made 20 minutes ago), then, logging in again from it
      // with five sessions already, the flash that names the device the cap signed out.
      const own = (await page.locator('tr.current').getAttribute('data-session-id'))!;
      await app
        .get(MikroORM)
        .em.getConnection()
        .execute(`UPDATE sessions SET inserted_at = inserted_at - interval '20 minutes' WHERE id = ?`, [own]);
      await logInElsewhere(userId, 'curl/8.5.0');
      await logInElsewhere(userId, 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Gecko/20100101 Firefox/128.0');
      await page.goto(base + '/account');
      await send(page, 'form[action="/account/sign-out-everywhere"]');
      expect(path(page)).toBe('/account/sign-out-everywhere');
      await check('reauthenticate');
      await page.getByLabel('User id').fill(userId);
      await send(page, 'form[action="/login"]');
      expect(path(page)).toBe('/account');
      expect(await flash(page)).toMatch(/the oldest session was signed out: Chrome on Android/);
      await check('account-session-cap');

      await page.goto(base + '/api-keys');
      await check('api-keys-empty');
      await page.getByLabel('Name').fill(LONG_KEY_NAME);
      for (const box of await page.getByRole('checkbox').all()) await box.check();
      await send(page, 'form[action="/api-keys"]');
      await page.getByLabel('Name').fill('ci');
      await send(page, 'form[action="/api-keys"]');
      expect(await page.locator('#new-key').count()).toBe(1);
      await check('api-keys-created');
      await page.reload();
      await check('api-keys');

      await page.goto(base + '/stats');
      await check('stats');

      const missing = '/no/such/page/' + 'x'.repeat(60);
      expect((await page.goto(base + missing))!.status()).toBe(404);
      await check('not-found');

      await context.close();
      expect(problems).toEqual([]);
      expect(failed(missing, '/account/sign-out-everywhere')).toEqual([]);
    },
  );
});
