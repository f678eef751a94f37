import { ForbiddenException, ServiceUnavailableException, UnauthorizedException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host';
import type { ModuleRef } from '@nestjs/core';
import { AUTHENTICATED_KEY, PUBLIC_KEY } from '../constants';
import { resolveSessionsOptions } from '../options/resolve-options';
import type { Resolution } from '../service/token-resolver';
import { Session } from '../store/session.entity';
import { AuthenticatedGuard } from './authenticated.guard';
import { getCurrentSession } from './request-sessions';

/** A kind's service as the guard sees it: its options and a resolver the test decides. */
function fakeService(
  resolve: (token: unknown) => Promise<Resolution>,
  options = {},
  fromCache: (token: string) => Session | undefined = () => undefined,
) {
  const resolved = resolveSessionsOptions(options);
  return {
    options: resolved,
    name: resolved.name,
    requests: {
      resolve: jest.fn(resolve),
      /** The kind's rotation: not due, unless a test says so. */
      reissueDue: jest.fn((_found: Session) => false),
      reissue: jest.fn((_found: Session, _token: string): Promise<{ session: Session; token: string } | null> =>
        Promise.resolve(null),
      ),
      fromCache: jest.fn((token: string) => ({ session: fromCache(token), digests: [`digest-of-${token}`] })),
      /** A use of a cached session, recorded (`trackLastUsed`). */
      used: jest.fn((_found: Session) => undefined),
      /** The database's clock: this machine's, here. */
      nowMs: () => Date.now(),
    },
  };
}

function session(expiresInMs = 3_600_000): Session {
  return Object.assign(Object.create(Session.prototype) as Session, {
    id: 's1',
    data: {},
    expiresAt: new Date(Date.now() + expiresInMs),
    insertedAt: new Date(),
    updatedAt: new Date(),
  });
}

/** As Nest runs a guard: a boolean or a promise, and a throw as a rejection. */
const activate = (guard: AuthenticatedGuard, context: ExecutionContextHost) =>
  Promise.resolve().then(() => guard.canActivate(context));

function guardWith(service: ReturnType<typeof fakeService>): AuthenticatedGuard {
  const moduleRef = { get: () => service } as unknown as ModuleRef;
  return new AuthenticatedGuard(new Reflector(), moduleRef);
}

/** A handler with the given metadata, called over HTTP. */
function http(request: object, metadata: Record<string, unknown> = { [AUTHENTICATED_KEY]: {} }) {
  class Controller {
    handler() {}
  }
  for (const [key, value] of Object.entries(metadata)) Reflect.defineMetadata(key, value, Controller.prototype.handler);
  const headers: Record<string, string> = {};
  const response = { setHeader: (name: string, value: string) => (headers[name] = value), append: jest.fn() };
  const context = new ExecutionContextHost([request, response], Controller, Controller.prototype.handler);
  context.setType('http');
  return { context, headers, response };
}

describe('AuthenticatedGuard decisions (fake resolver)', () => {
  const token = 'a'.repeat(64);

  it('no token: 401 with a bare Bearer challenge, and the resolver is not asked', async () => {
    const service = fakeService(async () => ({ session: null, extended: false, current: true }));
    const { context, headers } = http({ headers: {} });
    await expect(activate(guardWith(service), context)).rejects.toBeInstanceOf(UnauthorizedException);
    expect(headers['WWW-Authenticate']).toBe('Bearer');
    expect(service.requests.resolve).not.toHaveBeenCalled();
  });

  it('no token on an optional route: through, with no session', async () => {
    const service = fakeService(async () => ({ session: null, extended: false, current: true }));
    const { context } = http({ headers: {} }, { [AUTHENTICATED_KEY]: { optional: true } });
    await expect(activate(guardWith(service), context)).resolves.toBe(true);
    expect(getCurrentSession(context)).toBeUndefined();
  });

  it('an unknown token: 401 invalid_token', async () => {
    const service = fakeService(async () => ({ session: null, extended: false, current: true }));
    const { context, headers } = http({ headers: { 'x-auth-token': token } });
    await expect(activate(guardWith(service), context)).rejects.toBeInstanceOf(UnauthorizedException);
    expect(headers['WWW-Authenticate']).toBe('Bearer error="invalid_token"');
  });

  it('a valid token: through; the session is recorded and shown as request.authSession', async () => {
    const found = session();
    const service = fakeService(async () => ({ session: found, extended: false, current: true }));
    const request = { headers: { 'x-auth-token': token } } as Record<string, unknown>;
    const { context, response } = http(request);
    await expect(activate(guardWith(service), context)).resolves.toBe(true);
    expect(service.requests.resolve).toHaveBeenCalledWith(token, undefined, undefined, undefined); // no route check
    expect(getCurrentSession(context)).toBe(found);
    expect(request.authSession).toBe(found);
    expect(response.append).not.toHaveBeenCalled(); // no extension: no cookie
  });

  it("a second guard of the route's run (the context Nest gives each) for the same kind asks nothing again", async () => {
    const service = fakeService(async () => ({ session: session(), extended: false, current: true }));
    const guard = guardWith(service);
    const { context } = http({ headers: { 'x-auth-token': token } });
    await guard.canActivate(context);
    await guard.canActivate(context);
    expect(service.requests.resolve).toHaveBeenCalledTimes(1);
  });

  it('the database failing: 503, never 401', async () => {
    const service = fakeService(async () => Promise.reject(Object.assign(new Error('x'), { code: 'ECONNREFUSED' })));
    const { context } = http({ headers: { 'x-auth-token': token } });
    await expect(activate(guardWith(service), context)).rejects.toBeInstanceOf(ServiceUnavailableException);
  });

  it('a slid session whose token came from the cookie: the cookie goes out again, reaching the new expiry', async () => {
    const service = fakeService(async () => ({ session: session(7_200_000), extended: true, current: true }));
    const { context, response } = http({ headers: { cookie: `auth_token=${token}` } });
    await guardWith(service).canActivate(context);
    expect(response.append).toHaveBeenCalledWith(
      'Set-Cookie',
      expect.stringMatching(/^auth_token=a+; Max-Age=7[12]\d\d;/),
    );
  });

  it('a slid session whose token came from a header: no cookie', async () => {
    const service = fakeService(async () => ({ session: session(), extended: true, current: true }));
    const { context, response } = http({ headers: { 'x-auth-token': token } });
    await guardWith(service).canActivate(context);
    expect(response.append).not.toHaveBeenCalled();
  });

  it('a session the cache holds is answered without a promise; the resolver is not asked', async () => {
    const found = session();
    const service = fakeService(
      async () => ({ session: found, extended: false, current: true }),
      {},
      () => found,
    );
    const guard = guardWith(service);
    await guard.canActivate(http({ headers: { 'x-auth-token': token } }).context); // looks the kind up
    service.requests.resolve.mockClear();
    const { context } = http({ headers: { 'x-auth-token': token } });
    expect(guard.canActivate(context)).toBe(true);
    expect(getCurrentSession(context)).toBe(found);
    expect(service.requests.resolve).not.toHaveBeenCalled();
  });

  it('a cached session the route refuses (scopes) is not recorded as used; one it admits is', async () => {
    const found = Object.assign(session(), { scopes: ['read'] });
    const service = fakeService(
      async () => ({ session: found, extended: false, current: true }),
      {},
      () => found,
    );
    const guard = guardWith(service);
    await guard.canActivate(http({ headers: { 'x-auth-token': token } }).context); // looks the kind up
    service.requests.used.mockClear();
    const refused = http({ headers: { 'x-auth-token': token } }, { [AUTHENTICATED_KEY]: { scopes: ['write'] } });
    expect(() => guard.canActivate(refused.context)).toThrow(ForbiddenException);
    expect(service.requests.used).not.toHaveBeenCalled();
    const admitted = http({ headers: { 'x-auth-token': token } }, { [AUTHENTICATED_KEY]: { scopes: ['read'] } });
    expect(guard.canActivate(admitted.context)).toBe(true);
    expect(service.requests.used).toHaveBeenCalledWith(found);
  });

  it('a cached session due for reissue: a header token stays on the fast path; a cookie token goes on to be rotated', async () => {
    const found = session();
    const service = fakeService(
      async () => ({ session: found, extended: false, current: true }),
      {},
      () => found,
    );
    service.requests.reissueDue.mockReturnValue(true);
    const guard = guardWith(service);
    await guard.canActivate(http({ headers: { 'x-auth-token': token } }).context); // looks the kind up
    service.requests.resolve.mockClear();
    expect(guard.canActivate(http({ headers: { 'x-auth-token': token } }).context)).toBe(true);
    expect(service.requests.resolve).not.toHaveBeenCalled();
    await activate(guard, http({ headers: { cookie: `auth_token=${token}` } }).context);
    expect(service.requests.resolve).toHaveBeenCalledWith(token, undefined, [`digest-of-${token}`], undefined);
    expect(service.requests.reissue).toHaveBeenCalledTimes(1);
  });

  it('a cache miss hands its token and digests on: a token is hashed once a request', async () => {
    const found = session();
    const service = fakeService(async () => ({ session: found, extended: false, current: true }));
    const guard = guardWith(service);
    await guard.canActivate(http({ headers: { 'x-auth-token': token } }).context); // looks the kind up
    service.requests.resolve.mockClear();
    await expect(activate(guard, http({ headers: { 'x-auth-token': token } }).context)).resolves.toBe(true);
    expect(service.requests.resolve).toHaveBeenCalledWith(token, undefined, [`digest-of-${token}`], undefined);
  });

  it('a cookie token is reissued only when it is the current one; a replaced one (inside its grace) never', async () => {
    const current = fakeService(async () => ({ session: session(), extended: false, current: true }));
    current.requests.reissueDue.mockReturnValue(true);
    current.requests.reissue.mockImplementation((found) => Promise.resolve({ session: found, token: 'b'.repeat(64) }));
    const first = http({ headers: { cookie: `auth_token=${token}` } });
    await guardWith(current).canActivate(first.context);
    expect(current.requests.reissue).toHaveBeenCalledTimes(1);
    expect(first.response.append).toHaveBeenCalledWith('Set-Cookie', expect.stringMatching(/^auth_token=b{64};/));

    const replaced = fakeService(async () => ({ session: session(), extended: false, current: false }));
    replaced.requests.reissueDue.mockReturnValue(true);
    replaced.requests.reissue.mockImplementation((found) => Promise.resolve({ session: found, token: 'b'.repeat(64) }));
    const second = http({ headers: { cookie: `auth_token=${token}` } });
    await guardWith(replaced).canActivate(second.context);
    expect(replaced.requests.reissue).not.toHaveBeenCalled();
    expect(second.response.append).not.toHaveBeenCalled();
  });

  it('a header token is never reissued', async () => {
    const service = fakeService(async () => ({ session: session(), extended: false, current: true }));
    service.requests.reissueDue.mockReturnValue(true);
    service.requests.reissue.mockImplementation((found) => Promise.resolve({ session: found, token: 'b'.repeat(64) }));
    const { context, response } = http({ headers: { 'x-auth-token': token } });
    await guardWith(service).canActivate(context);
    expect(service.requests.reissue).not.toHaveBeenCalled();
    expect(response.append).not.toHaveBeenCalled();
  });

  it('a failed reissue keeps the session and its token: the request goes through', async () => {
    const service = fakeService(async () => ({ session: session(), extended: false, current: true }));
    service.requests.reissueDue.mockReturnValue(true);
    service.requests.reissue.mockImplementation(() => Promise.reject(new Error('down')));
    const { context, response } = http({ headers: { cookie: `auth_token=${token}` } });
    await expect(guardWith(service).canActivate(context)).resolves.toBe(true);
    expect(response.append).not.toHaveBeenCalled();
  });

  it('maxAge: an older login is refused with 401 insufficient_user_authentication; scopes: 403 insufficient_scope', async () => {
    const old = Object.assign(session(), { insertedAt: new Date(Date.now() - 120_000), scopes: ['read'] });
    const service = fakeService(async () => ({ session: old, extended: false, current: true }));
    const stepUp = http({ headers: { 'x-auth-token': token } }, { [AUTHENTICATED_KEY]: { maxAge: 60 } });
    await expect(activate(guardWith(service), stepUp.context)).rejects.toBeInstanceOf(UnauthorizedException);
    expect(stepUp.headers['WWW-Authenticate']).toBe('Bearer error="insufficient_user_authentication", max_age="60"');
    const scoped = http({ headers: { 'x-auth-token': token } }, { [AUTHENTICATED_KEY]: { scopes: ['read', 'write'] } });
    await expect(activate(guardWith(service), scoped.context)).rejects.toBeInstanceOf(ForbiddenException);
    expect(scoped.headers['WWW-Authenticate']).toBe('Bearer error="insufficient_scope", scope="read write"');
    const enough = http(
      { headers: { 'x-auth-token': token } },
      { [AUTHENTICATED_KEY]: { maxAge: 600, scopes: ['read'] } },
    );
    await expect(activate(guardWith(service), enough.context)).resolves.toBe(true);
  });

  it('a route with maxAge or scopes hands the resolver its check: a session it refuses is not slid', async () => {
    const old = Object.assign(session(), { insertedAt: new Date(Date.now() - 120_000) });
    const service = fakeService(async () => ({ session: old, extended: false, current: true }));
    const stepUp = http({ headers: { 'x-auth-token': token } }, { [AUTHENTICATED_KEY]: { maxAge: 60 } });
    await expect(activate(guardWith(service), stepUp.context)).rejects.toBeInstanceOf(UnauthorizedException);
    const admits = (service.requests.resolve.mock.calls[0] as unknown[])[3] as (found: Session) => boolean;
    expect(admits(old)).toBe(false);
    expect(admits(session())).toBe(true);
  });

  it('@Public(): through without asking anything', async () => {
    const service = fakeService(async () => ({ session: null, extended: false, current: true }));
    const { context } = http({ headers: {} }, { [PUBLIC_KEY]: true });
    await expect(activate(guardWith(service), context)).resolves.toBe(true);
    expect(service.requests.resolve).not.toHaveBeenCalled();
  });

  it("the nearest class declaration wins: a subclass's own (or its nearest ancestor's) over one it inherits", async () => {
    class Guarded {
      handler() {}
    }
    class Opened extends Guarded {}
    class Below extends Opened {}
    class Closed extends Below {}
    Reflect.defineMetadata(AUTHENTICATED_KEY, {}, Guarded);
    Reflect.defineMetadata(PUBLIC_KEY, true, Opened);
    Reflect.defineMetadata(AUTHENTICATED_KEY, {}, Closed);
    const service = fakeService(async () => ({ session: null, extended: false, current: true }));
    const guard = guardWith(service);
    const on = (controller: typeof Guarded) => {
      const context = new ExecutionContextHost(
        [{ headers: {} }, { setHeader() {} }],
        controller,
        Guarded.prototype.handler,
      );
      context.setType('http');
      return activate(guard, context);
    };
    await expect(on(Opened)).resolves.toBe(true);
    await expect(on(Below)).resolves.toBe(true);
    await expect(on(Guarded)).rejects.toBeInstanceOf(UnauthorizedException);
    await expect(on(Closed)).rejects.toBeInstanceOf(UnauthorizedException);
  });
});
