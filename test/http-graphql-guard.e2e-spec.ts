import { type ExecutionContext, Injectable, UnauthorizedException } from '@nestjs/common';
import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host';
import { Authenticated, AuthenticatedGuard, CurrentSession, generateToken, type RequestLike } from '../lib';
import { createTestApp, type TestApp } from './support/app';
import { sql } from './support/database';
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

  @Authenticated({ name: 'apiKeys' })
  createThing() {}
}

/** One GraphQL operation: its fields share the context ({ req, res }); each has its own `info`. */
function gqlOperation(headers: Record<string, string>) {
  const req = { headers } as RequestLike & Record<string, unknown>;
  const res = {
    headers: {} as Record<string, string>,
    setCookies: [] as string[],
    setHeader(name: string, value: string) {
      this.headers[name.toLowerCase()] = value;
    },
    append(name: string, value: string) {
      if (name.toLowerCase() === 'set-cookie') this.setCookies.push(value);
    },
  };
  const shared = { req, res };
  const field = (handler: () => void) => {
    const context = new ExecutionContextHost([{}, {}, shared, {}], MeResolver, handler);
    context.setType('graphql');
    return context;
  };
  return { field, req, res };
}

/** A GraphQL execution context around a request with these headers. */
function gqlContext(handler: () => void, headers: Record<string, string>) {
  const { field, req, res } = gqlOperation(headers);
  return { context: field(handler), req, res };
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
    t = await createTestApp({
      providers: [GqlAuthenticatedGuard],
      kinds: [
        { rotation: { grace: '30s', every: '10m' } },
        { name: 'apiKeys', ttl: null, tokenFrom: [{ type: 'header', name: 'x-api-key' }] },
      ],
    });
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

  it("each field sees only what its own guard found: an API key is not an optional field's default-kind session", async () => {
    const { session: key, token } = await t.sessions('apiKeys').create({ userId: 'robot' });
    const { field, req } = gqlOperation({ 'x-api-key': token }); // mutation { createThing maybe }
    const first = field(MeResolver.prototype.createThing);
    await expect(activate(guard, first)).resolves.toBe(true);
    expect((currentSession(undefined, first) as { id: string }).id).toBe(key.id);
    const second = field(MeResolver.prototype.maybe); // the default kind, no token of its own
    await expect(activate(guard, second)).resolves.toBe(true);
    expect(currentSession(undefined, second)).toBeUndefined();
    expect((currentSession(undefined, first) as { id: string }).id).toBe(key.id);
    expect((req.authSession as { id: string }).id).toBe(key.id); // the request shows the last session found
  });

  it('a field whose info is not an object: a guard run that finds nothing leaves no earlier field visible', async () => {
    const { token } = await t.sessions('apiKeys').create({ userId: 'robot' });
    const ctx = { req: { headers: { 'x-api-key': token } } };
    const field = (handler: () => void) => {
      const context = new ExecutionContextHost([{}, {}, ctx, undefined], MeResolver, handler);
      context.setType('graphql');
      return context;
    };
    const first = field(MeResolver.prototype.createThing);
    await expect(activate(guard, first)).resolves.toBe(true);
    expect(currentSession(undefined, first)).toBeDefined();
    const second = field(MeResolver.prototype.maybe);
    await expect(activate(guard, second)).resolves.toBe(true);
    expect(currentSession(undefined, second)).toBeUndefined();
  });

  it('a session slid for a cookie token gets its cookie again, on the response getResponse gives', async () => {
    const { session, token } = await t.sessions().create({ userId: 'alice' });
    await sql(t.orm, `UPDATE sessions SET expires_at = now() + interval '5 days' WHERE id = ?`, [session.id]);
    const { context, res } = gqlContext(MeResolver.prototype.me, { cookie: `auth_token=${token}` });
    await expect(activate(guard, context)).resolves.toBe(true);
    expect(res.setCookies).toHaveLength(1);
    expect(res.setCookies[0]).toMatch(new RegExp(`^auth_token=${token};.*Max-Age=(604[0-9]{3})`));
  });

  it('rotation.every reissues a due cookie token and sends the new one; the base guard, with no response, never', async () => {
    const { session, token } = await t.sessions().create({ userId: 'alice' });
    const older = `UPDATE sessions SET inserted_at = inserted_at - interval '11 minutes', rotated_at = rotated_at - interval '11 minutes' WHERE id = ?`;
    await sql(t.orm, older, [session.id]);
    const base = t.app.get(AuthenticatedGuard);
    const bare = new ExecutionContextHost(
      [{ headers: { cookie: `auth_token=${token}` } }, {}, {}, {}],
      MeResolver,
      MeResolver.prototype.me,
    );
    bare.setType('graphql');
    await expect(activate(base, bare)).resolves.toBe(true);
    const previous = `SELECT previous_auth_token_digest AS previous FROM sessions WHERE id = ?`;
    expect((await sql<{ previous: string | null }>(t.orm, previous, [session.id]))[0].previous).toBeNull();
    const { context, res } = gqlContext(MeResolver.prototype.me, { cookie: `auth_token=${token}` });
    await expect(activate(guard, context)).resolves.toBe(true);
    const next = /^auth_token=([^;]*)/.exec(res.setCookies[0] ?? '')?.[1];
    expect(next).toBeDefined();
    expect(next).not.toBe(token);
    expect((await t.sessions().authenticate(next!))?.id).toBe(session.id);
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
