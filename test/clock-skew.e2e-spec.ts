import { Controller, Get } from '@nestjs/common';
import { Authenticated, type SessionsService } from '../lib';
import { createTestApp, type TestApp } from './support/app';
import { skewClock } from './support/clock';
import { sql } from './support/database';
import { CapturingLogger } from './support/http';
import { notePoolerSkipped, poolerRuns, throughPooler } from './support/pooler';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What the measured offset may be off by (half a round trip, under load), in seconds. */
const ERROR_S = 0.25;

@Controller()
class StepUpController {
  @Authenticated({ maxAge: '30s' })
  @Get('recent')
  recent() {
    return { ok: true };
  }
}

notePoolerSkipped('test/clock-skew (PgBouncer part)');

type Case = [string, number, 'directly' | 'through PgBouncer'];

const cases: Case[] = [
  ['a minute ahead of', 60_000, 'directly'],
  ['a minute behind', -60_000, 'directly'],
  ['a second ahead of', 1_000, 'directly'],
  ['a second behind', -1_000, 'directly'],
  // The offset measured through a transaction pooler: each statement may take another server connection.
  ...(poolerRuns
    ? [
        ['a minute ahead of', 60_000, 'through PgBouncer'] satisfies Case,
        ['a minute behind', -60_000, 'through PgBouncer'] satisfies Case,
      ]
    : []),
];

describe.each(cases)("an instance whose clock runs %s the database's (%d ms), connected %s", (_, offsetMs, via) => {
  let t: TestApp;
  let sessions: SessionsService;
  let restore: () => void;
  const logger = new CapturingLogger();

  beforeAll(async () => {
    restore = skewClock(offsetMs);
    t = await createTestApp({
      kinds: [{ ttl: 2, absoluteTtl: 3, extendThreshold: 0 }],
      controllers: [StepUpController],
      listen: true,
      logger,
      ...(via === 'through PgBouncer' ? { orm: { clientUrl: throughPooler() } } : {}),
    });
    sessions = t.sessions();
    // The kind measures its offset at start-up (in the background).
    const measured = () => Math.abs(sessions.requests.nowMs() - Date.now() + offsetMs) < 200;
    for (let i = 0; i < 200 && !measured(); i++) await sleep(20);
  });
  afterAll(async () => {
    await t?.close();
    restore?.();
  });

  /** How old the row is and how long it has left, in seconds, by the database's clock. */
  const row = async (id: string) =>
    (
      await sql<{ age: string; left: string }>(
        t.orm,
        `SELECT extract(epoch from clock_timestamp() - inserted_at)::text AS age, ` +
          `extract(epoch from expires_at - clock_timestamp())::text AS "left" FROM sessions WHERE id = ?`,
        [id],
      )
    )[0];

  // A second off sits on the warning's threshold (over 1 s): only the minute is said for sure.
  if (Math.abs(offsetMs) > 1000)
    it('measures its offset at start-up, and says so when it is large', () => {
      expect(logger.lines.join('\n')).toMatch(
        /Kind "default": this instance's clock runs 60 s (ahead of|behind) the database's/,
      );
    });

  it('creates sessions that live their ttl by the database clock, not a minute more or less', async () => {
    const { session, token } = await sessions.create({ userId: 'skewed' });
    const { age, left } = await row(session.id);
    expect(Math.abs(Number(age))).toBeLessThan(1);
    expect(Number(left)).toBeGreaterThan(1);
    expect(Number(left)).toBeLessThan(2 + ERROR_S);
    expect(Math.abs(session.insertedAt.getTime() - Date.now() + offsetMs)).toBeLessThan(1000); // in the database's time
    expect(await sessions.authenticate(token, { extend: false })).not.toBeNull();
    await sleep(2000 + 1000 * ERROR_S + 150);
    expect(await sessions.authenticate(token)).toBeNull();
  });

  it('slides sessions to the ttl by the database clock, never past absoluteTtl', async () => {
    const { session, token } = await sessions.create({ userId: 'slid' });
    await sleep(1000);
    expect(await sessions.authenticate(token)).not.toBeNull(); // slides: 2 s from now, capped at 3 s from login
    const { left } = await row(session.id);
    expect(Number(left)).toBeGreaterThan(1);
    expect(Number(left)).toBeLessThan(2 + ERROR_S);
    await sleep(1500);
    expect(await sessions.authenticate(token)).not.toBeNull(); // 2.5 s after login
    await sleep(500 + 1000 * ERROR_S + 150);
    expect(await sessions.authenticate(token)).toBeNull(); // past absoluteTtl
  });

  it("judges a route's maxAge by the database clock too", async () => {
    const { token } = await sessions.create({ userId: 'step-up' });
    const response = await fetch(`${t.url}/recent`, { headers: { 'x-auth-token': token } });
    expect(response.status).toBe(200); // logged in a moment ago, whichever clock is off
  });

  it('sends a slid cookie that lives until the new expiry, by the database clock', async () => {
    const { token } = await sessions.create({ userId: 'cookie' });
    await sleep(1000); // the extension falls due (threshold 0)
    const response = await fetch(`${t.url}/recent`, { headers: { cookie: `auth_token=${token}` } });
    expect(response.status).toBe(200);
    const maxAge = Number(/Max-Age=(\d+)/.exec(response.headers.get('set-cookie') ?? '')?.[1]);
    expect(maxAge).toBeGreaterThanOrEqual(1); // 2 s from now, capped at 3 s from login: not 0, not a minute more
    expect(maxAge).toBeLessThanOrEqual(3); // rounded up, and the offset's error
  });
});
