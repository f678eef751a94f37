import { type INestApplication, Logger } from '@nestjs/common';
import { createSampleApp } from './app.factory';
import { openDatabase } from './database/database';

/** A port already in use, said with what to do about it. */
export class PortInUseError extends Error {
  constructor(readonly port: number) {
    super(`port ${port} is in use; set PORT=${port + 1} npm start (or stop what listens on ${port})`);
    this.name = 'PortInUseError';
  }
}

/** `app.listen(port)`, with EADDRINUSE turned into a `PortInUseError` that names `PORT`. */
export async function listen(app: INestApplication, port: number): Promise<void> {
  try {
    await app.listen(port);
  } catch (error) {
    if ((error as NodeJS.ErrnoException)?.code === 'EADDRINUSE') throw new PortInUseError(port);
    throw error;
  }
}

/** `npm start`: the sample on http://localhost:3000 (`PORT` overrides), on `DATABASE_URL` or an embedded PGlite. */
async function main(): Promise<void> {
  const database = await openDatabase();
  const app = await createSampleApp({
    databaseUrl: database.url,
    singleConnection: database.embedded,
    // e.g. ROTATE_EVERY=30s npm start, to watch the account page's token being replaced.
    rotateEvery: process.env.ROTATE_EVERY || undefined,
  });
  const port = Number(process.env.PORT) || 3000;
  try {
    await listen(app, port);
  } catch (error) {
    await app.close();
    // PGlite writes its files on close.
    await database.close();
    throw error;
  }
  new Logger('Sample').log(`Serving http://localhost:${port} (database: ${database.description})`);
  const stop = async () => {
    await app.close();
    // PGlite writes its files on close: stopping it is what keeps the data.
    await database.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (require.main === module) {
  main().catch((error) => {
    console.error(error instanceof PortInUseError ? `Sample: ${error.message}` : error);
    process.exit(1);
  });
}
