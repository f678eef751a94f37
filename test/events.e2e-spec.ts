import { Injectable } from '@nestjs/common';
import { EventEmitterModule, OnEvent } from '@nestjs/event-emitter';
import { SESSION_EVENTS, type SessionEvent, type SessionsPrunedEvent } from '../lib';
import { sql } from './support/database';
import { createTestApp, type TestApp } from './support/app';

@Injectable()
class AuditListener {
  readonly received: Array<[string, SessionEvent | SessionsPrunedEvent]> = [];
  @OnEvent('sessions.*')
  onAny(event: SessionEvent) {
    this.received.push(['any', event]);
  }
  @OnEvent(SESSION_EVENTS.created)
  onCreated() {
    throw new Error('a broken listener');
  }
}

describe('events', () => {
  let t: TestApp;
  const hooks: Array<[string, SessionEvent | SessionsPrunedEvent]> = [];
  const record = (name: string) => (event: SessionEvent | SessionsPrunedEvent) => void hooks.push([name, event]);
  let secrets: string[] = [];

  beforeAll(async () => {
    t = await createTestApp({
      imports: [EventEmitterModule.forRoot({ wildcard: true })],
      providers: [AuditListener],
      kinds: [
        {
          ttl: '1h',
          extendThreshold: 0,
          onCreated: record('created'),
          onExtended: record('extended'),
          onExpired: record('expired'),
          onDeleted: record('deleted'),
          onPruned: record('pruned'),
        },
        {
          name: 'throwing',
          onCreated: () => {
            throw new Error('sync failure');
          },
          onDeleted: async () => {
            throw new Error('async failure');
          },
        },
      ],
    });
  });
  afterAll(() => t.close());
  beforeEach(() => {
    hooks.length = 0;
    t.app.get(AuditListener).received.length = 0;
  });

  it('fire once per operation with the session, never the token or digest', async () => {
    const sessions = t.sessions();
    const { session, token } = await sessions.create({ userId: 'u' });
    secrets = [token, session.authTokenDigest];
    await new Promise((r) => setTimeout(r, 5));
    await sessions.authenticate(token); // threshold 0: extends
    await sessions.expire(session);
    const second = await sessions.create({ userId: 'u' });
    secrets.push(second.token, second.session.authTokenDigest);
    await sessions.delete(second.session);
    const third = await sessions.create({ userId: 'v' });
    await sessions.deleteAll({ userId: 'v' });
    await sql(t.orm, 'UPDATE sessions SET expires_at = ? WHERE id = ?', [
      new Date(Date.now() - 1000).toISOString(),
      session.id,
    ]);
    await sessions.prune();

    expect(hooks.map(([name]) => name)).toEqual([
      'created',
      'extended',
      'expired',
      'created',
      'deleted',
      'created',
      'deleted',
      'pruned',
    ]);
    expect(hooks[0][1]).toMatchObject({ kind: 'default', session: { id: session.id, userId: 'u' } });
    expect(hooks[4][1]).toMatchObject({ kind: 'default', session: { id: second.session.id } });
    expect(hooks[6][1]).toMatchObject({ session: { id: third.session.id, userId: 'v' } });
    expect(hooks[7][1]).toEqual({ kind: 'default', count: 1 });

    const emitted = t.app.get(AuditListener).received;
    await new Promise((r) => setTimeout(r, 10));
    expect(emitted.length).toBe(hooks.length);
    const everything = JSON.stringify([hooks, emitted]);
    for (const secret of secrets) expect(everything).not.toContain(secret);
  });

  it('a throwing listener changes nothing', async () => {
    const throwing = t.sessions('throwing');
    const { session, token } = await throwing.create({ userId: 'u' });
    expect(await throwing.authenticate(token)).not.toBeNull();
    expect(await throwing.delete(session)).toBe(true);
    await new Promise((r) => setTimeout(r, 10));
    expect(await throwing.count({ status: 'all' })).toBe(0);
  });
});
