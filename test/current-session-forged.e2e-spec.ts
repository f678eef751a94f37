import { Body, Controller, type ExecutionContext, Injectable, Post } from '@nestjs/common';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host';
import { Authenticated, AuthenticatedGuard, CurrentSession, getCurrentSession, type Session } from '../lib';
import { type Adapter, createTestApp, type TestApp } from './support/app';
import { activate } from './support/guard';

/** `@CurrentSession()` is what the guard found, whatever the request says it is (see also rpc-guard, ws-guard). */
@Controller()
class EchoController {
  @Authenticated({ optional: true })
  @Post('maybe')
  maybe(@CurrentSession() session: Session | undefined, @Body() _body: unknown) {
    return { session: session ?? null };
  }
}

const forged = { authSession: { id: 'forged', userId: 'admin' } };

describe.each<Adapter>(['express', 'fastify'])('@CurrentSession() over HTTP on %s', (adapter) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ adapter, listen: true, controllers: [EchoController] });
  });
  afterAll(() => t.close());

  const post = async (path: string, headers: Record<string, string> = {}) => {
    const response = await fetch(`${t.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(forged),
    });
    return (await response.json()) as { session: { id: string } | null };
  };

  it('an `authSession` in the body or the query is no session', async () => {
    expect(await post('/maybe?authSession=admin')).toEqual({ session: null });
  });

  it('with a token, the session the guard found', async () => {
    const { session, token } = await t.sessions().create({ userId: 'u' });
    expect((await post('/maybe', { 'x-auth-token': token })).session?.id).toBe(session.id);
  });
});

/** The README's GraphQL subclass. */
@Injectable()
class GqlAuthenticatedGuard extends AuthenticatedGuard {
  protected override getRequest(context: ExecutionContext) {
    return context.getArgByIndex(2).req;
  }
}

class Resolver {
  @Authenticated({ optional: true })
  maybe() {}
}

describe('@CurrentSession() in a GraphQL resolver', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ providers: [GqlAuthenticatedGuard] });
  });
  afterAll(() => t.close());

  it('an `authSession` in the arguments or the context is no session', async () => {
    const context = new ExecutionContextHost(
      [{}, { ...forged }, { req: { headers: {} }, ...forged }, {}],
      Resolver,
      Resolver.prototype.maybe,
    );
    context.setType('graphql');
    await expect(activate(t.app.get(GqlAuthenticatedGuard), context)).resolves.toBe(true);
    expect(getCurrentSession(context)).toBeUndefined();
  });
});
