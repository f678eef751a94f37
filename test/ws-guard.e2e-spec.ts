import { UnauthorizedException } from '@nestjs/common';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host';
import { Authenticated, AuthenticatedGuard } from '../lib';
import { createTestApp, type TestApp } from './support/app';
import { activate } from './support/guard';

class ChatGateway {
  @Authenticated()
  message() {
    return 'ok';
  }
}

/** A WebSocket message: the long-lived client first, then the message data. */
function wsContext(client: object): ExecutionContextHost {
  const context = new ExecutionContextHost([client, { text: 'hi' }], ChatGateway, ChatGateway.prototype.message);
  context.setType('ws');
  return context;
}

describe('AuthenticatedGuard on WebSocket messages', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ kinds: [{}] });
  });
  afterAll(() => t.close());

  it('authenticates every message: a session deleted mid-connection is refused on the next one', async () => {
    const guard = t.app.get(AuthenticatedGuard);
    const { session, token } = await t.sessions().create({ userId: 'u' });
    const client = { headers: { 'x-auth-token': token } };
    await expect(activate(guard, wsContext(client))).resolves.toBe(true);
    await expect(activate(guard, wsContext(client))).resolves.toBe(true);
    await t.sessions().delete(session);
    await expect(activate(guard, wsContext(client))).rejects.toBeInstanceOf(UnauthorizedException);
  });
});
