import { Controller } from '@nestjs/common';
import { ClientProxyFactory, MessagePattern, Payload, type ClientProxy, Transport } from '@nestjs/microservices';
import type { AddressInfo, Server } from 'node:net';
import { lastValueFrom } from 'rxjs';
import { Authenticated, CurrentSession, Public, type Session } from '../lib';
import { createTestApp, type TestApp } from './support/app';

/** A microservice whose messages carry their token in `headers`, as the base guard reads it from the payload. */
@Controller()
class AccountHandlers {
  @Authenticated()
  @MessagePattern('me')
  me(@CurrentSession() session: Session, @Payload() payload: Record<string, unknown>) {
    return { id: session?.id ?? null, payloadKeys: Object.keys(payload) };
  }

  @Authenticated({ optional: true })
  @MessagePattern('maybe')
  maybe(@CurrentSession() session?: Session) {
    return { session: session ?? null };
  }

  @Public()
  @MessagePattern('public')
  open(@CurrentSession() session?: Session) {
    return { session: session ?? null };
  }

  @MessagePattern('unguarded')
  unguarded(@CurrentSession() session?: Session) {
    return { session: session ?? null };
  }
}

describe('AuthenticatedGuard on microservice (TCP) messages', () => {
  let t: TestApp;
  let client: ClientProxy;
  const send = <T = Record<string, unknown>>(pattern: string, payload: unknown): Promise<T> =>
    lastValueFrom(client.send<T>(pattern, payload));

  beforeAll(async () => {
    t = await createTestApp({ controllers: [AccountHandlers] });
    const microservice = t.app.connectMicroservice({
      transport: Transport.TCP,
      options: { host: '127.0.0.1', port: 0 },
    });
    await t.app.startAllMicroservices();
    const { port } = microservice.unwrap<Server>().address() as AddressInfo;
    client = ClientProxyFactory.create({ transport: Transport.TCP, options: { host: '127.0.0.1', port } });
    await client.connect();
  });
  afterAll(async () => {
    await client?.close();
    await t.close();
  });

  const forged = { authSession: { id: 'forged', userId: 'admin' } };

  it('an optional handler sent `authSession` in the payload and no token gets no session', async () => {
    expect(await send('maybe', forged)).toEqual({ session: null });
  });

  it('neither does a @Public() handler nor one without the guard', async () => {
    expect(await send('public', forged)).toEqual({ session: null });
    expect(await send('unguarded', forged)).toEqual({ session: null });
  });

  it('a token in the payload finds its session, and the payload reaches the handler as sent', async () => {
    const { session, token } = await t.sessions().create({ userId: 'u' });
    const headers = { 'x-auth-token': token };
    expect(await send('me', { headers })).toEqual({ id: session.id, payloadKeys: ['headers'] });
    // a forged `authSession` next to a real token changes nothing either
    expect(await send('me', { headers, ...forged })).toEqual({
      id: session.id,
      payloadKeys: ['headers', 'authSession'],
    });
    // the next message, without a token, starts with no session
    expect(await send('maybe', {})).toEqual({ session: null });
  });

  it('refuses a message without a token on a guarded handler', async () => {
    await expect(send('me', forged)).rejects.toBeDefined();
  });
});
