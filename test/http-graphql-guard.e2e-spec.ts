import { type ExecutionContext, Injectable, UnauthorizedException } from '@nestjs/common';
import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host';
import { Authenticated, AuthenticatedGuard, CurrentSession, generateToken, type RequestLike } from '../lib';
import { createTestApp, type TestApp } from './support/app';
import { activate } from './support/guard';

/**
 * The subclass the README shows, without @nestjs/graphql installed:
 * `GqlExecutionContext.create(context).getContext()` is the third handler argument.
 */
@Injectable()
class GqlAuthenticatedGuard extends AuthenticatedGuard {
  protected override getRequest(context: ExecutionContext) {
    return context.getArgByIndex(2).req;
  }

  protected override getResponse(context: ExecutionContext) {
    return context.getArgByIndex(2).res;
  }
}

/** A resolver as @nestjs/graphql would call it: (root, args, context, info). */
class MeResolver {
  @Authenticated()
  me() {}

  @Authenticated({ optional: true })
  maybe() {}
}

/** A GraphQL execution context around a request with these headers. */
function gqlContext(handler: () => void, headers: Record<string, string>) {
  const req = { headers } as RequestLike & Record<string, unknown>;
  const res = {
    headers: {} as Record<string, string>,
    setHeader(name: string, value: string) {
      this.headers[name.toLowerCase()] = value;
    },
  };
  const context = new ExecutionContextHost([{}, {}, { req, res }, {}], MeResolver, handler);
  context.setType('graphql');
  return { context, req, res };
}

/** The function `@CurrentSession(property)` runs, as Nest would call it. */
function currentSession(property: string | undefined, context: ExecutionContext): unknown {
  class Probe {
    handler(@CurrentSession(property) _session: unknown) {}
  }
  const args = Reflect.getMetadata(ROUTE_ARGS_METADATA, Probe, 'handler');
  const { factory, data } = args[Object.keys(args)[0]];
  return factory(data, context);
}

describe('a GraphQL guard: AuthenticatedGuard subclassed with getRequest/getResponse', () => {
  let t: TestApp;
  let guard: GqlAuthenticatedGuard;

  beforeAll(async () => {
    t = await createTestApp({ providers: [GqlAuthenticatedGuard] });
    guard = t.app.get(GqlAuthenticatedGuard);
  });
  afterAll(() => t.close());

  it('authenticates from the GraphQL context and @CurrentSession() finds the session there', async () => {
    const { session, token } = await t.sessions().create({ userId: 'alice' });
    const { context, req } = gqlContext(MeResolver.prototype.me, { authorization: `Bearer ${token}` });
    await expect(activate(guard, context)).resolves.toBe(true);
    expect((req.authSession as { id: string }).id).toBe(session.id);
    expect((currentSession(undefined, context) as { id: string }).id).toBe(session.id);
    expect(currentSession('userId', context)).toBe('alice');
  });

  it('refuses a bad token with a 401 and the challenge on the response it was given', async () => {
    const { context, res } = gqlContext(MeResolver.prototype.me, { 'x-auth-token': generateToken() });
    await expect(activate(guard, context)).rejects.toBeInstanceOf(UnauthorizedException);
    expect(res.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
  });

  it('lets an optional resolver run anonymously, @CurrentSession() undefined', async () => {
    const { context } = gqlContext(MeResolver.prototype.maybe, {});
    await expect(activate(guard, context)).resolves.toBe(true);
    expect(currentSession(undefined, context)).toBeUndefined();
  });

  it('the base guard does not mistake GraphQL arguments for a response', async () => {
    const base = t.app.get(AuthenticatedGuard);
    const args = { setHeader: jest.fn(), header: jest.fn() }; // a resolver argument named like a method
    const context = new ExecutionContextHost([{ headers: {} }, args, {}, {}], MeResolver, MeResolver.prototype.me);
    context.setType('graphql');
    await expect(activate(base, context)).rejects.toBeInstanceOf(UnauthorizedException);
    expect(args.setHeader).not.toHaveBeenCalled();
    expect(args.header).not.toHaveBeenCalled();
  });
});
