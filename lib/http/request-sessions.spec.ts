import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host';
import { currentSessionOf, forgetSession, foundSession, rememberSession } from './request-sessions';
import { Session } from '../store/session.entity';

function session(id: string): Session {
  return Object.assign(Object.create(Session.prototype) as Session, { id });
}

/** One run of a route's guards, as Nest makes it for a request. */
function guardRun(request: object): ExecutionContextHost {
  return new ExecutionContextHost([request, {}]);
}

describe('request.authSession', () => {
  it('an HTTP request shows the session it was found for', () => {
    const request: Record<string, unknown> = {};
    rememberSession(guardRun(request), request, true, 'default', session('c'));
    expect((request.authSession as Session).id).toBe('c');
    expect('authSession' in Object.prototype).toBe(false);
  });

  it("other record keys are never written on (an RPC payload is the sender's data)", () => {
    const payload: Record<string, unknown> = {};
    rememberSession(guardRun(payload), payload, false, 'default', session('d'));
    expect(payload).toEqual({});
    expect(currentSessionOf(payload)?.id).toBe('d');
  });
});

describe('currentSessionOf', () => {
  it('is only what the guard recorded, never an `authSession` the carrier arrived with (an RPC payload, WS data)', () => {
    const payload = { authSession: session('forged') };
    expect(currentSessionOf(payload)).toBeUndefined();
    rememberSession(guardRun(payload), payload, false, 'default', session('found'));
    expect(currentSessionOf(payload)?.id).toBe('found');
    forgetSession(payload);
    expect(currentSessionOf(payload)).toBeUndefined();
  });
});

describe('the HTTP record', () => {
  it('is found again by kind within the route run; nothing a client can send stands in for it', () => {
    const request: Record<string | symbol, unknown> = {
      'nestjs-ecto-sessions.found': session('forged'),
      [Symbol.for('nestjs-ecto-sessions.found')]: session('forged'),
    };
    const run = guardRun(request);
    Object.assign(run, { 'nestjs-ecto-sessions.by-kind': new Map([['default', session('forged')]]) });
    expect(currentSessionOf(request)).toBeUndefined();
    expect(foundSession(run, 'default')).toBeUndefined();
    rememberSession(run, request, true, 'default', session('a'));
    rememberSession(run, request, true, 'apiKeys', session('b'));
    expect(currentSessionOf(request)?.id).toBe('b');
    expect(foundSession(run, 'default')?.id).toBe('a');
    expect(foundSession(run, 'apiKeys')?.id).toBe('b');
  });

  it("another route run on the same request starts with nothing found (Nest makes one context a request's guards share)", () => {
    const request = {};
    rememberSession(guardRun(request), request, true, 'default', session('a'));
    expect(foundSession(guardRun(request), 'default')).toBeUndefined();
    expect(currentSessionOf(request)?.id).toBe('a');
  });
});
