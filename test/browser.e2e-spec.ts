import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { MikroORM } from '@mikro-orm/core';
import { type Browser, chromium, type Locator, type Page, request } from 'playwright-core';
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

const present = existsSync(CHROMIUM);
if (!present && !process.env.CI) {
  console.warn(`Skipping the browser test: no Chromium at ${CHROMIUM} (apt-get install chromium). CI always runs it.`);
}

(present || process.env.CI ? describe : describe.skip)('sample app in Chromium', () => {
  jest.setTimeout(120_000);
  let app: INestApplication;
  let browser: Browser;
  let base: string;

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

  const flash = (page: Page) => page.locator('.flash').textContent();
  const path = (page: Page) => new URL(page.url()).pathname;

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
  });
});
