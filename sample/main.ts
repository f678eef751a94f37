import { Logger } from '@nestjs/common';
import { createSampleApp } from './app.factory';
import { openDatabase } from './database/database';

/** `npm start`: the sample on http://localhost:3000 (`PORT` overrides), on `DATABASE_URL` or an embedded PGlite. */
async function main(): Promise<void> {
  const database = await openDatabase();
  const app = await createSampleApp({ databaseUrl: database.url, singleConnection: database.embedded });
  const port = Number(process.env.PORT) || 3000;
  await app.listen(port);
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

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
