import { currentSessionOf, forgetSession, foundSession, rememberSession } from './request-sessions';
import { Session } from '../store/session.entity';

function session(id: string): Session {
  return Object.assign(Object.create(Session.prototype) as Session, { id });
}

describe('request.authSession', () => {
  it('an HTTP request shows the session it was found for', () => {
    const request: Record<string, unknown> = {};
    rememberSession(request, true, 'default', session('c'));
    expect((request.authSession as Session).id).toBe('c');
    expect('authSession' in Object.prototype).toBe(false);
  });

  it("other record keys are never written on (an RPC payload is the sender's data)", () => {
    const payload: Record<string, unknown> = {};
    rememberSession(payload, false, 'default', session('d'));
    expect(payload).toEqual({});
    expect(currentSessionOf(payload)?.id).toBe('d');
  });
});

describe('currentSessionOf', () => {
  it('is only what the guard recorded, never an `authSession` the carrier arrived with (an RPC payload, WS data)', () => {
    const payload = { authSession: session('forged') };
    expect(currentSessionOf(payload)).toBeUndefined();
    rememberSession(payload, false, 'default', session('found'));
    expect(currentSessionOf(payload)?.id).toBe('found');
    forgetSession(payload);
    expect(currentSessionOf(payload)).toBeUndefined();
  });
});

describe('the HTTP record', () => {
  it('is found again for the request, by kind; nothing a client can send stands in for it', () => {
    const request: Record<string | symbol, unknown> = {
      'nestjs-ecto-sessions.found': { current: session('forged'), byKind: { default: session('forged') } },
      [Symbol.for('nestjs-ecto-sessions.found')]: { current: session('forged'), byKind: {} },
    };
    expect(currentSessionOf(request)).toBeUndefined();
    expect(foundSession(request, 'default')).toBeUndefined();
    rememberSession(request, true, 'default', session('a'));
    rememberSession(request, true, 'apiKeys', session('b'));
    expect(currentSessionOf(request)?.id).toBe('b');
    expect(foundSession(request, 'default')?.id).toBe('a');
    expect(foundSession(request, 'apiKeys')?.id).toBe('b');
  });
});
