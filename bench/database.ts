import { Client } from 'pg';
import { startEmbeddedPostgres } from '../sample/database/embedded-postgres';

/** The default: a database of its own on the local server, so a run never touches `test` or `ecto_dev`. */
export const LOCAL_SERVER = 'postgresql://postgres@127.0.0.1:5432';
export const BENCH_DATABASE = 'ecto_bench';

export interface BenchDatabase {
  url: string;
  /** Embedded PGlite: one statement at a time, in WebAssembly; its figures say nothing about PostgreSQL. */
  embedded: boolean;
  /** `SELECT version()`, for the record. */
  version: string;
  close(): Promise<void>;
}

/** An explicit URL as is; else the local server's `ecto_bench` (created if missing); else embedded PGlite, loudly. */
export async function openBenchDatabase(
  explicitUrl: string | undefined,
  log: (line: string) => void,
): Promise<BenchDatabase> {
  if (explicitUrl) return describe(explicitUrl, false, async () => {});
  try {
    await ensureDatabase(`${LOCAL_SERVER}/postgres`, BENCH_DATABASE);
    return describe(`${LOCAL_SERVER}/${BENCH_DATABASE}`, false, async () => {});
  } catch (error) {
    log(
      `\n!!! No DATABASE_URL and no PostgreSQL at ${LOCAL_SERVER} (${(error as Error).message}).\n` +
        '!!! Falling back to embedded PGlite: the figures below are NOT comparable with PostgreSQL.\n',
    );
    const pglite = await startEmbeddedPostgres();
    return describe(pglite.url, true, () => pglite.stop());
  }
}

async function ensureDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new Client({ connectionString: adminUrl, connectionTimeoutMillis: 3_000 });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
}

async function describe(url: string, embedded: boolean, close: () => Promise<void>): Promise<BenchDatabase> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ version: string }>('SELECT version() AS version');
    // An explicit URL may point at PGlite too (the test suite's): its version names it.
    return { url, embedded: embedded || /PGlite/i.test(rows[0].version), version: rows[0].version, close };
  } finally {
    await client.end();
  }
}
