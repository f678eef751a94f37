import { currentSessionOf, exposeSession, rememberSession } from './request-sessions';
import { Session } from '../store/session.entity';

function session(id: string): Session {
  return Object.assign(Object.create(Session.prototype) as Session, { id });
}

describe('request.authSession', () => {
  it('an accessor on a request prototype also serves prototypes chained below it, without per-request properties', () => {
    class Request {}
    const child = Object.create(Request.prototype) as object; // as a Fastify child context's Request.prototype
    const first = new Request();
    rememberSession(first, true, 'default', session('a'));
    exposeSession(first, session('a'));
    const second = Object.create(child) as Record<string, unknown>;
    rememberSession(second, true, 'default', session('b'));
    exposeSession(second, session('b'));
    expect(Object.prototype.hasOwnProperty.call(second, 'authSession')).toBe(false);
    expect((second.authSession as Session).id).toBe('b');
    expect(((first as Record<string, unknown>).authSession as Session).id).toBe('a');
  });

  it('a plain object gets an own property', () => {
    const request: Record<string, unknown> = {};
    exposeSession(request, session('c'));
    expect((request.authSession as Session).id).toBe('c');
    expect('authSession' in Object.prototype).toBe(false);
  });
});

describe('currentSessionOf', () => {
  it('is only what the guard recorded, never an `authSession` the carrier arrived with (an RPC payload, WS data)', () => {
    const payload = { authSession: session('forged') };
    expect(currentSessionOf(payload)).toBeUndefined();
    rememberSession(payload, false, 'default', session('found'));
    expect(currentSessionOf(payload)?.id).toBe('found');
  });
});
