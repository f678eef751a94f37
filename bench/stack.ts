import { Pool } from 'pg';
import { type BenchDatabase, openBenchDatabase } from './database';
import { EXPRESS_SESSION_TABLE, type ExpressSessionApp, startExpressSessionApp } from './express-session-app';
import { BENCH_TABLE, type LibraryApp, startLibraryApp } from './library-app';
import { LoadGenerator } from './load-generator';
import { countQueries } from './query-counter';
import { type ServerCpuSnapshot, serverCpuReader } from './server-cpu';
import type { BenchSettings } from './settings';

/** Everything a run needs up: the database, the apps in this process, the load generator in its own. */
export interface Stack {
  database: BenchDatabase;
  /** Pool size actually used: PGlite serves one connection at a time. */
  poolSize: number;
  /** The plain library app and its cached twin. */
  library: LibraryApp;
  cached: LibraryApp;
  /** The same two behind cookie-parser and express-session mounted app-wide, when asked for. */
  mixed: { library: LibraryApp; cached: LibraryApp } | undefined;
  expressSession: ExpressSessionApp | undefined;
  /** For seeding and housekeeping; not used by any scenario. */
  admin: Pool;
  load: LoadGenerator;
  /** The local PostgreSQL server's processes' CPU time so far, when it runs on this machine. */
  serverCpu: (() => ServerCpuSnapshot) | undefined;
  warnings: string[];
  close(): Promise<void>;
}

/**
 * The cached app's cache. Its ttl outlasts a run on purpose: the rounds load the
 * cached app 2 s in every 12 or so, and with a 30 s ttl the 1,000 tokens, cached
 * together, expired together every third round (0.3 to 0.4 queries a request in
 * those rounds). The scenario measures cached requests; a miss costs what the
 * authenticated scenario measures.
 */
export const CACHE = { ttl: '10m', max: 200_000 };

export async function openStack(
  settings: BenchSettings,
  log: (line: string) => void,
  apps: { expressSession: boolean; mixed: boolean },
): Promise<Stack> {
  countQueries();
  const warnings: string[] = [];
  const database = await openBenchDatabase(settings.databaseUrl, log);
  if (database.embedded) {
    warnings.push('Embedded PGlite, not PostgreSQL: these figures are not comparable with a real server.');
  }
  const poolSize = database.embedded ? 1 : settings.poolSize;
  const closers: Array<() => Promise<unknown>> = [() => database.close()];
  const close = async () => {
    for (const closer of closers.reverse()) await closer().catch((error) => log(`close: ${(error as Error).message}`));
  };
  try {
    const admin = new Pool({ connectionString: database.url, max: 1 });
    closers.push(() => admin.end());
    // Last thing before the pool ends: a run leaves no table behind (the smoke test may run on a test database).
    closers.push(() => admin.query(`DROP TABLE IF EXISTS "${BENCH_TABLE}", "${EXPRESS_SESSION_TABLE}"`));
    const library = await startLibraryApp({ databaseUrl: database.url, poolSize });
    closers.push(() => library.close());
    const cached = await startLibraryApp({ databaseUrl: database.url, poolSize, cache: CACHE });
    closers.push(() => cached.close());
    let mixed: Stack['mixed'];
    if (apps.mixed) {
      const mixedLibrary = await startLibraryApp({ databaseUrl: database.url, poolSize, mixed: true });
      closers.push(() => mixedLibrary.close());
      const mixedCached = await startLibraryApp({ databaseUrl: database.url, poolSize, cache: CACHE, mixed: true });
      closers.push(() => mixedCached.close());
      mixed = { library: mixedLibrary, cached: mixedCached };
    }
    const expressSession = apps.expressSession
      ? await startExpressSessionApp({ databaseUrl: database.url, poolSize })
      : undefined;
    if (expressSession) closers.push(() => expressSession.close());
    const load = new LoadGenerator();
    closers.push(() => load.close());
    await load.start();
    const serverCpu = serverCpuReader(database.url, database.embedded);
    return { database, poolSize, library, cached, mixed, expressSession, admin, load, serverCpu, warnings, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * Waits until the caches serve (the plain app's and the mixed app's): each is
 * bypassed until its LISTEN connection is up, and a bypassed cache would be
 * measured as an uncached route.
 */
export async function cacheServing(stack: Stack, timeoutMs = 10_000): Promise<boolean> {
  const caches = { cached: stack.cached, 'mixed-cached': stack.mixed?.cached };
  const deadline = Date.now() + timeoutMs;
  let serving = true;
  for (const [name, app] of Object.entries(caches)) {
    if (!app) continue;
    const status = () => (app.sessions as { cacheStatus?: { serving: boolean } }).cacheStatus;
    while (!status()?.serving && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    if (status()?.serving) continue;
    stack.warnings.push(`The cache never reported serving (cacheStatus.serving): "${name}" ran uncached.`);
    serving = false;
  }
  return serving;
}
