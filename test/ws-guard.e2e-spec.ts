import { type ExecutionContext, Injectable, UnauthorizedException } from '@nestjs/common';
import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host';
import { Authenticated, AuthenticatedGuard, CurrentSession, getCurrentSession, Public, type Session } from '../lib';
import { createTestApp, type TestApp } from './support/app';
import { activate } from './support/guard';

class ChatGateway {
  @Authenticated()
  message() {
    return 'ok';
  }

  @Authenticated({ optional: true })
  maybe() {}

  @Public()
  open() {}

  /** A handler with no guard at all. */
  unguarded() {}
}

/** Reads the token from each message's data, as a gateway whose clients send it with every message. */
@Injectable()
class MessageTokenGuard extends AuthenticatedGuard {
  protected override getRequest(context: ExecutionContext) {
    return context.switchToWs().getData();
  }
}

/** A WebSocket message: the long-lived client first, then the message data. */
function wsContext(
  client: object,
  handler: () => unknown = ChatGateway.prototype.message,
  data: unknown = { text: 'hi' },
) {
  const context = new ExecutionContextHost([client, data], ChatGateway, handler);
  context.setType('ws');
  return context;
}

/** What `@CurrentSession()` gives the handler: Nest builds the decorator its own context over the same arguments. */
function currentSession(context: ExecutionContextHost): Session | undefined {
  class Probe {
    handler(@CurrentSession() _session: unknown) {}
  }
  const args = Reflect.getMetadata(ROUTE_ARGS_METADATA, Probe, 'handler');
  const { factory, data } = args[Object.keys(args)[0]];
  const own = new ExecutionContextHost([...context.getArgs()], ChatGateway, context.getHandler());
  own.setType('ws');
  const session = factory(data, own) as Session | undefined;
  expect(getCurrentSession(own)).toBe(session);
  return session;
}

describe('AuthenticatedGuard on WebSocket messages', () => {
  let t: TestApp;
  let guard: AuthenticatedGuard;
  let perMessage: MessageTokenGuard;
  beforeAll(async () => {
    t = await createTestApp({ kinds: [{}], providers: [MessageTokenGuard] });
    guard = t.app.get(AuthenticatedGuard);
    perMessage = t.app.get(MessageTokenGuard);
  });
  afterAll(() => t.close());

  /** A message whose data carries `token` (or none) in the headers `MessageTokenGuard` reads. */
  const withToken = (token?: string) => ({ headers: token ? { 'x-auth-token': token } : {} });

  it('authenticates every message: a session deleted mid-connection is refused on the next one', async () => {
    const { session, token } = await t.sessions().create({ userId: 'u' });
    const client = { headers: { 'x-auth-token': token } };
    await expect(activate(guard, wsContext(client))).resolves.toBe(true);
    await expect(activate(guard, wsContext(client))).resolves.toBe(true);
    await t.sessions().delete(session);
    await expect(activate(guard, wsContext(client))).rejects.toBeInstanceOf(UnauthorizedException);
  });

  it('message data carrying `authSession` is not a session', async () => {
    const context = wsContext({ headers: {} }, ChatGateway.prototype.maybe, { authSession: { id: 'forged' } });
    await expect(activate(guard, context)).resolves.toBe(true);
    expect(currentSession(context)).toBeUndefined();
  });

  it('an optional message without a token does not inherit the deleted session of the message before it', async () => {
    const { session, token } = await t.sessions().create({ userId: 'u' });
    const client = { headers: {} };
    const first = wsContext(client, ChatGateway.prototype.message, withToken(token));
    await expect(activate(perMessage, first)).resolves.toBe(true);
    expect(currentSession(first)?.id).toBe(session.id);
    await t.sessions().delete(session);
    const second = wsContext(client, ChatGateway.prototype.maybe, withToken());
    await expect(activate(perMessage, second)).resolves.toBe(true);
    expect(currentSession(second)).toBeUndefined();
  });

  it('each message starts with no session, even while the previous one is still valid', async () => {
    const { session, token } = await t.sessions().create({ userId: 'u' });
    const client = { headers: {} };
    const first = wsContext(client, ChatGateway.prototype.message, withToken(token));
    await expect(activate(perMessage, first)).resolves.toBe(true);
    const second = wsContext(client, ChatGateway.prototype.maybe, withToken());
    await expect(activate(perMessage, second)).resolves.toBe(true);
    expect(currentSession(second)).toBeUndefined();
    expect(currentSession(first)?.id).toBe(session.id);
  });

  it('interleaved messages of one socket each keep their own session', async () => {
    const { session, token } = await t.sessions().create({ userId: 'u' });
    const client = { headers: {} };
    const first = wsContext(client, ChatGateway.prototype.message, withToken(token));
    const second = wsContext(client, ChatGateway.prototype.maybe, withToken());
    const pending = activate(perMessage, first); // its lookup may finish after the second message's guard
    await expect(activate(perMessage, second)).resolves.toBe(true);
    await expect(pending).resolves.toBe(true);
    expect(currentSession(first)?.id).toBe(session.id);
    expect(currentSession(second)).toBeUndefined();
  });

  it('data that is not an object: the message is authenticated, but no session is recorded for it', async () => {
    // Nothing Nest hands both the guard and the handler belongs to the message alone: the client
    // outlives it, and messages interleave. Recording under the client let a later message see it.
    const { session, token } = await t.sessions().create({ userId: 'u' });
    const client = { headers: { 'x-auth-token': token } };
    const first = wsContext(client, ChatGateway.prototype.message, 'hello');
    await expect(activate(guard, first)).resolves.toBe(true);
    expect(currentSession(first)).toBeUndefined();
    await t.sessions().delete(session);
    const second = wsContext(client, ChatGateway.prototype.unguarded, 'later'); // no guard runs for it
    expect(currentSession(second)).toBeUndefined();
    await expect(activate(guard, wsContext(client, ChatGateway.prototype.message, 'again'))).rejects.toThrow(
      UnauthorizedException,
    );
  });
});
