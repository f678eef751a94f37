import { Body, Controller, Delete, Get, HttpCode, Param, Post, Res } from '@nestjs/common';
import type { Response } from 'express';
import {
  Authenticated,
  CurrentSession,
  InjectSessions,
  type Session,
  type SessionEvent,
  SessionsService,
} from '../lib';
import { createTestApp, type TestApp } from './support/app';
import { sql } from './support/database';
import { CapturingLogger } from './support/http';
import { digestsOf } from './support/digests';

@Controller()
class AppController {
  constructor(
    private readonly sessions: SessionsService,
    @InjectSessions('broken') private readonly broken: SessionsService,
  ) {}

  @Post('login')
  async login(@Body() body: { userId: string }, @Res({ passthrough: true }) res: Response) {
    const { token } = await this.sessions.create({ userId: body.userId, data: { agent: 'test' } });
    this.sessions.setCookie(res, token);
    return { ok: true };
  }

  @Authenticated()
  @Get('me')
  me(@CurrentSession() session: Session) {
    return session;
  }

  @Authenticated()
  @Get('sessions')
  list(@CurrentSession('userId') userId: string) {
    return this.sessions.list({ userId, status: 'all' });
  }

  @Authenticated()
  @Delete('sessions/:id')
  @HttpCode(204)
  async revoke(@Param('id') id: string) {
    await this.sessions.delete(id);
  }

  @Authenticated({ name: 'broken' })
  @Get('broken')
  brokenRoute() {
    return 'unreachable';
  }
}

describe('secrets stay secret', () => {
  const logger = new CapturingLogger();
  const events: SessionEvent[] = [];
  const captured: string[] = [];
  const tokens: string[] = [];
  let t: TestApp;

  beforeAll(async () => {
    const record = (e: SessionEvent) => void events.push(e);
    t = await createTestApp({
      kinds: [
        { onCreated: record, onDeleted: record, onExpired: record, onExtended: record, extendThreshold: 0 },
        { name: 'broken', tableName: 'no_such_table' },
      ],
      controllers: [AppController],
      listen: true,
      logger,
    });
    await sql(t.orm, 'DROP TABLE IF EXISTS no_such_table');
  });
  afterAll(() => t.close());

  /** A request whose whole response (status, headers but the login's Set-Cookie, body) is kept for the scan. */
  async function request(path: string, init: RequestInit = {}, keepSetCookie = false) {
    const response = await fetch(`${t.url}${path}`, init);
    const body = await response.text();
    const headers = [...response.headers].filter(([name]) => keepSetCookie || name !== 'set-cookie');
    captured.push(`${response.status} ${JSON.stringify(headers)} ${body}`);
    return { response, body };
  }

  it('a full run: login, use, list, expire, revoke, bad tokens, database errors', async () => {
    const login = async (userId: string) => {
      const { response } = await request('/login', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ userId }),
      });
      const token = /auth_token=([^;]+)/.exec(response.headers.get('set-cookie')!)![1];
      tokens.push(token);
      return token;
    };
    const a = await login('alice');
    const b = await login('alice');
    const auth = (token: string) => ({ headers: { 'x-auth-token': token } });
    expect((await request('/me', auth(a))).response.status).toBe(200);
    expect((await request('/me', { headers: { authorization: `Bearer ${a}` } })).response.status).toBe(200);
    expect((await request('/me', { headers: { cookie: `auth_token=${a}` } })).response.status).toBe(200);
    const { body } = await request('/sessions', auth(a));
    const ids = (JSON.parse(body) as Array<{ id: string }>).map((s) => s.id);
    expect(ids).toHaveLength(2);
    // near misses and junk
    for (const bad of [a.slice(1) + 'x', a + a, `${a}, ${b}`, a.toUpperCase(), 'x'.repeat(8192)]) {
      expect((await request('/me', auth(bad))).response.status).toBe(401);
    }
    const bSession = (await t.sessions().authenticate(b))!;
    await t.sessions().expire(bSession);
    expect((await request('/me', auth(b))).response.status).toBe(401);
    expect((await request(`/sessions/${bSession.id}`, { ...auth(a), method: 'DELETE' })).response.status).toBe(204);
    // a database error on the lookup: 503, and the SQL (with the digest in it) stays out of logs and body
    expect((await request('/broken', auth(a))).response.status).toBe(503);
    captured.push(JSON.stringify(await t.sessions().list({ status: 'all' })));
    captured.push(JSON.stringify(events));
  });

  it('no log line, error body, event or JSON serialization contains a token or a digest', () => {
    const secrets = tokens.flatMap((token) => [
      token,
      ...digestsOf(t.sessions(), token),
      ...digestsOf(t.sessions('broken'), token),
    ]);
    expect(secrets.length).toBeGreaterThanOrEqual(4);
    expect(events.length).toBeGreaterThanOrEqual(4);
    expect(logger.lines.some((l) => /lookup .* failed/.test(l))).toBe(true); // the 503 was logged
    const everything = [...captured, ...logger.lines, ...t.log.statements].join('\n');
    for (const secret of secrets) expect(everything).not.toContain(secret);
  });
});
