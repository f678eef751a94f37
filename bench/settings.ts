import { parseArgs } from 'node:util';
import { RESULTS_DIR } from './paths';
import { type AppName, APPS } from './scenarios';

/** What one run of the benchmark measures, and how. Flags override `BENCH_*` variables, which override defaults. */
export interface BenchSettings {
  /** Database to use; unset = `DATABASE_URL`, else a local server's `ecto_bench`, else embedded PGlite. */
  databaseUrl?: string;
  /** Sessions seeded in each store, so the index has a real depth. */
  sessions: number;
  /** Of those, how many have tokens the load generator knows; requests rotate over them. */
  tokens: number;
  /** Alternating rounds; each runs every scenario once, in a rotated order. */
  rounds: number;
  /** Seconds of load per scenario per round (autocannon ends on whole seconds). */
  duration: number;
  /** Seconds of unmeasured load per scenario before the rounds (JIT, pool connections). */
  warmup: number;
  /** Concurrent HTTP connections, the same for every scenario. */
  connections: number;
  /** Database connections of each DB-backed scenario's pool (MikroORM, plain pg, connect-pg-simple). */
  poolSize: number;
  /** The library's apps the main run measures, in the same rounds: plain, and mixed (behind express-session app-wide). */
  apps: AppName[];
  /** Seconds of CPU profile of each profiled route after the rounds; 0 = none. */
  profile: number;
  /** Where latest.json, latest.md (or scale.*) and the profile go. */
  outDir: string;
  /** Scale mode instead: lookup cost by table size, memory per cached session, p99 while pruning. */
  scale: boolean;
  /** Measure `delete()` latency across instances instead (`--revocation`; real PostgreSQL, PgBouncer when PGBOUNCER_URL is set). */
  revocation: boolean;
  /** Lookups on a streaming replica vs the primary instead (`--replica`; needs REPLICA_URL). */
  replica: boolean;
  /** Scale mode: table sizes to compare. */
  scaleSizes: number[];
  /** Scale mode: expired rows pruned under load. */
  pruneRows: number;
  /** Scale mode: sessions put in the cache to weigh one. */
  cachedSessions: number;
}

export const DEFAULT_SETTINGS: BenchSettings = {
  sessions: 100_000,
  tokens: 1_000,
  // Many short rounds rather than a few long ones: on a shared machine, a burst of
  // other work then falls on every scenario alike instead of on one.
  rounds: 12,
  duration: 2,
  warmup: 2,
  connections: 10,
  poolSize: 10,
  apps: [...APPS],
  profile: 5,
  outDir: RESULTS_DIR,
  scale: false,
  revocation: false,
  replica: false,
  scaleSizes: [1_000, 100_000, 1_000_000],
  pruneRows: 1_000_000,
  cachedSessions: 20_000,
};

/** Settings from the command line (`--rounds 3 --scale`) and `BENCH_*` variables. */
export function settingsFrom(argv: string[], env: NodeJS.ProcessEnv): BenchSettings {
  const { values } = parseArgs({
    args: argv,
    options: {
      'database-url': { type: 'string' },
      sessions: { type: 'string' },
      tokens: { type: 'string' },
      rounds: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      pool: { type: 'string' },
      apps: { type: 'string' },
      profile: { type: 'string' },
      out: { type: 'string' },
      scale: { type: 'boolean' },
      revocation: { type: 'boolean' },
      replica: { type: 'boolean' },
      'scale-sizes': { type: 'string' },
      'prune-rows': { type: 'string' },
      'cached-sessions': { type: 'string' },
    },
  });
  const pick = (flag: keyof typeof values, variable: string): string | undefined =>
    (values[flag] as string | undefined) ?? env[`BENCH_${variable}`];
  const number = (flag: keyof typeof values, variable: string, fallback: number): number => {
    const raw = pick(flag, variable);
    if (raw === undefined) return fallback;
    const value = Number(raw.replace(/_/g, ''));
    if (!Number.isFinite(value) || value < 0)
      throw new Error(`--${flag} / BENCH_${variable}: expected a number, got "${raw}"`);
    return value;
  };
  const d = DEFAULT_SETTINGS;
  const sizes = pick('scale-sizes', 'SCALE_SIZES');
  const apps =
    pick('apps', 'APPS')
      ?.split(',')
      .map((a) => a.trim()) ?? d.apps;
  const unknown = apps.filter((a) => !(APPS as readonly string[]).includes(a));
  if (unknown.length || apps.length === 0)
    throw new Error(`--apps / BENCH_APPS: expected some of ${APPS.join(',')}, got "${apps.join(',')}"`);
  return {
    databaseUrl: pick('database-url', 'DATABASE_URL') ?? env.DATABASE_URL,
    sessions: number('sessions', 'SESSIONS', d.sessions),
    tokens: number('tokens', 'TOKENS', d.tokens),
    rounds: number('rounds', 'ROUNDS', d.rounds),
    duration: number('duration', 'DURATION', d.duration),
    warmup: number('warmup', 'WARMUP', d.warmup),
    connections: number('connections', 'CONNECTIONS', d.connections),
    poolSize: number('pool', 'POOL', d.poolSize),
    apps: APPS.filter((a) => apps.includes(a)),
    profile: number('profile', 'PROFILE', d.profile),
    outDir: pick('out', 'OUT') ?? d.outDir,
    scale: Boolean(values.scale) || env.BENCH_SCALE === '1',
    revocation: Boolean(values.revocation),
    replica: Boolean(values.replica),
    scaleSizes: sizes ? sizes.split(',').map((s) => Number(s.replace(/_/g, ''))) : d.scaleSizes,
    pruneRows: number('prune-rows', 'PRUNE_ROWS', d.pruneRows),
    cachedSessions: number('cached-sessions', 'CACHED_SESSIONS', d.cachedSessions),
  };
}
