import { onPglite } from './database';

/** Whether PgBouncer (`.ci/pgbouncer.sh` prints the URL to set as PGBOUNCER_URL) can be tried: it needs a real server. */
export const poolerRuns = !onPglite() && !!process.env.PGBOUNCER_URL;

/** The test database, reached through PgBouncer. */
export function throughPooler(): string {
  const direct = new URL(process.env.DATABASE_URL!);
  return `${process.env.PGBOUNCER_URL!.replace(/\/$/, '')}${direct.pathname}`;
}

/** Says why a suite's PgBouncer part does not run, when it does not. */
export function notePoolerSkipped(suite: string): void {
  if (poolerRuns) return;
  console.info(
    `${suite} skipped: ${onPglite() ? 'needs a real server' : 'PGBOUNCER_URL is not set (.ci/pgbouncer.sh)'}`,
  );
}
