import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { SAMPLE_DIR } from '../paths';
import { startEmbeddedPostgres } from './embedded-postgres';

/** Where the sample's database is, and how to let go of it. */
export interface SampleDatabase {
  url: string;
  /** Embedded PGlite serves one statement at a time, so the pool keeps one connection. */
  embedded: boolean;
  description: string;
  close(): Promise<void>;
}

/** Data of the embedded database; git-ignored. */
export const DATA_DIR = join(SAMPLE_DIR, '.data', 'pglite');

/** `DATABASE_URL` when set; otherwise an embedded PGlite keeping its data in `sample/.data/`. */
export async function openDatabase(env: NodeJS.ProcessEnv = process.env): Promise<SampleDatabase> {
  if (env.DATABASE_URL) {
    return { url: env.DATABASE_URL, embedded: false, description: 'DATABASE_URL', close: async () => {} };
  }
  mkdirSync(DATA_DIR, { recursive: true });
  const pg = await startEmbeddedPostgres({ dataDir: DATA_DIR });
  return { url: pg.url, embedded: true, description: `embedded PGlite in ${DATA_DIR}`, close: () => pg.stop() };
}
