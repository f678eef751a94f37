import type { EmbeddedPostgres } from '../../sample/database/embedded-postgres';

export default async function globalTeardown(): Promise<void> {
  const embedded = (globalThis as Record<string, unknown>).__EMBEDDED_POSTGRES__ as EmbeddedPostgres | undefined;
  await embedded?.stop();
}
