import { createServer, type Server } from 'node:net';
import type { INestApplication } from '@nestjs/common';
import { createSampleApp } from '../sample/app.factory';
import { listen, PortInUseError } from '../sample/main';

/** `npm start` on a port something else holds says so, and names PORT. */
describe('sample: a port in use', () => {
  let app: INestApplication;
  let holder: Server;
  let port: number;

  beforeAll(async () => {
    holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, resolve));
    port = (holder.address() as { port: number }).port;
    app = await createSampleApp({
      databaseUrl: process.env.DATABASE_URL!,
      singleConnection: process.env.TEST_DATABASE_KIND === 'pglite',
      pruneInterval: null,
      logger: false,
    });
  });

  afterAll(async () => {
    await app?.close();
    await new Promise((resolve) => holder.close(resolve));
  });

  it('fails with a message that says which port and how to choose another', async () => {
    const failure = await listen(app, port).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(PortInUseError);
    expect((failure as Error).message).toBe(
      `port ${port} is in use; set PORT=${port + 1} npm start (or stop what listens on ${port})`,
    );
  });
});
