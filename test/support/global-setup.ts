import { startEmbeddedPostgres } from '../../sample/database/embedded-postgres';

/** Uses `DATABASE_URL` when set; otherwise starts an embedded PGlite for the whole run. */
export default async function globalSetup(): Promise<void> {
  if (process.env.DATABASE_URL) {
    process.env.TEST_DATABASE_KIND = 'postgres';
    return;
  }
  const embedded = await startEmbeddedPostgres();
  process.env.DATABASE_URL = embedded.url;
  process.env.TEST_DATABASE_KIND = 'pglite';
  (globalThis as Record<string, unknown>).__EMBEDDED_POSTGRES__ = embedded;
}
