import type { LoadResult } from './load-generator';
import { BENCH_TABLE } from './library-app';
import { describeMachine, type Machine, writeResults } from './report';
import { check, fixed, measure, median, type Medians, medians, type RoundResult, runRounds } from './rounds';
import { DESCRIPTIONS, type Scenario } from './scenarios';
import { createLibraryTable, insertFillers, seedLibrary } from './seed';
import type { BenchSettings } from './settings';
import { CACHE, cacheServing, openStack, type Stack } from './stack';

export interface ScaleResults {
  date: string;
  machine: Machine;
  settings: Pick<
    BenchSettings,
    'tokens' | 'rounds' | 'duration' | 'warmup' | 'connections' | 'scaleSizes' | 'pruneRows' | 'cachedSessions'
  > & {
    poolSizeUsed: number;
  };
  /** Lookup cost by table size: it should stay flat (a B-tree gains a level per ~hundredfold). */
  lookup: Array<{
    sessions: number;
    tableMb: number;
    authenticated: Medians;
    floor: Medians;
    /** Median of the per-round ratios of requests/s. */
    authenticatedToFloor: number;
    rounds: Record<'authenticated' | 'floor', RoundResult[]>;
  }>;
  /** Heap a cached session costs, or null without `--expose-gc`. */
  cacheMemory: { sessions: number; heapDeltaBytes: number; bytesPerSession: number } | null;
  /** Authenticated requests while `prune()` deletes the expired rows, against the same load without it. */
  pruning: {
    expiredRows: number;
    deleted: number | null;
    pruneSeconds: number;
    /** The same load just before and just after the pruning. */
    before: LoadResult;
    after: LoadResult;
    during: LoadResult;
    /** During over the lower of the two baselines: a burst of other work in one baseline cannot flatter the pruning. */
    p99Ratio: number;
  };
  warnings: string[];
}

/** Scale mode (issue 6, part 4); writes scale.json and scale.md. */
export async function runScale(
  settings: BenchSettings,
  log: (line: string) => void = console.log,
): Promise<ScaleResults> {
  const stack = await openStack(settings, log, { expressSession: false, mixed: false });
  try {
    await createLibraryTable(stack.library);
    const lookup: ScaleResults['lookup'] = [];
    for (const size of settings.scaleSizes) lookup.push(await lookupAt(stack, settings, size, log));
    const cacheMemory = await cachedSessionCost(stack, settings, log);
    const pruning = await pruneUnderLoad(stack, settings, log);
    const results: ScaleResults = {
      date: new Date().toISOString(),
      machine: describeMachine(stack.database.version, stack.database.embedded),
      settings: {
        tokens: settings.tokens,
        rounds: settings.rounds,
        duration: settings.duration,
        warmup: settings.warmup,
        connections: settings.connections,
        scaleSizes: settings.scaleSizes,
        pruneRows: settings.pruneRows,
        cachedSessions: settings.cachedSessions,
        poolSizeUsed: stack.poolSize,
      },
      lookup,
      cacheMemory,
      pruning,
      warnings: stack.warnings,
    };
    const markdown = renderScale(results);
    writeResults(settings.outDir, 'scale', results, markdown);
    log('\n' + markdown);
    return results;
  } finally {
    await stack.close();
  }
}

function scenario(stack: Stack, name: 'authenticated' | 'floor', tokens: string[]): Scenario {
  return {
    name,
    description: DESCRIPTIONS[name],
    target: { url: `${stack.library.url}/${name}`, header: 'x-auth-token', values: tokens },
  };
}

/** The floor and the guarded route, in alternating rounds, on a table of `size` rows. */
async function lookupAt(
  stack: Stack,
  settings: BenchSettings,
  size: number,
  log: (line: string) => void,
): Promise<ScaleResults['lookup'][number]> {
  log(`Seeding ${size.toLocaleString('en')} sessions`);
  const tokens = await seedLibrary(stack.admin, stack.library.sessions, {
    total: size,
    tokens: Math.min(settings.tokens, size),
    log,
  });
  const { rows } = await stack.admin.query(`SELECT pg_total_relation_size('"${BENCH_TABLE}"') AS bytes`);
  const scenarios = [scenario(stack, 'floor', tokens), scenario(stack, 'authenticated', tokens)];
  const rounds = await runRounds(stack.load, scenarios, { ...settings, serverCpu: stack.serverCpu, log });
  const [authenticated, floor] = [rounds.get('authenticated')!, rounds.get('floor')!];
  return {
    sessions: size,
    tableMb: Number(rows[0].bytes) / 2 ** 20,
    authenticated: medians(authenticated),
    floor: medians(floor),
    authenticatedToFloor: median(authenticated.map((r, i) => r.rps / floor[i].rps)),
    rounds: { authenticated, floor },
  };
}

/**
 * Heap per cached session: heapUsed after a full collection, before and after
 * `cachedSessions` distinct sessions went through the cached service. The
 * tokens exist before the first reading, so only what the cache keeps counts.
 */
async function cachedSessionCost(
  stack: Stack,
  settings: BenchSettings,
  log: (line: string) => void,
): Promise<ScaleResults['cacheMemory']> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) {
    stack.warnings.push('Memory per cached session not measured: run node with --expose-gc (npm run bench does).');
    return null;
  }
  const count = Math.min(settings.cachedSessions, CACHE.max);
  log(`Weighing ${count.toLocaleString('en')} cached sessions`);
  const tokens = await seedLibrary(stack.admin, stack.library.sessions, { total: count + 1, tokens: count + 1, log });
  const service = stack.cached.sessions;
  if (!(await cacheServing(stack))) return null;
  await service.authenticate(tokens.pop()!); // lazily made structures (statements, pool clients) exist before the first reading
  const heap = () => {
    gc();
    gc();
    return process.memoryUsage().heapUsed;
  };
  const size = () => (service as { cacheStatus?: { size: number } }).cacheStatus?.size ?? NaN;
  const [before, sizeBefore] = [heap(), size()];
  for (let i = 0; i < tokens.length; i += 100)
    await Promise.all(tokens.slice(i, i + 100).map((t) => service.authenticate(t)));
  const [after, cached] = [heap(), size() - sizeBefore];
  if (cached !== count) stack.warnings.push(`The cache holds ${cached} of the ${count} sessions weighed.`);
  return { sessions: cached, heapDeltaBytes: after - before, bytesPerSession: (after - before) / cached };
}

/**
 * p99 of the guarded route while `prune()` deletes `pruneRows` expired rows
 * (in its bounded batches), against the same load just before on the same table.
 */
async function pruneUnderLoad(
  stack: Stack,
  settings: BenchSettings,
  log: (line: string) => void,
): Promise<ScaleResults['pruning']> {
  const valid = settings.scaleSizes.includes(100_000) ? 100_000 : Math.max(...settings.scaleSizes);
  log(`Seeding ${valid.toLocaleString('en')} valid and ${settings.pruneRows.toLocaleString('en')} expired sessions`);
  const tokens = await seedLibrary(stack.admin, stack.library.sessions, {
    total: valid,
    tokens: Math.min(settings.tokens, valid),
    log,
  });
  await insertFillers(stack.admin, settings.pruneRows, 'expired', log);
  await stack.admin.query(`VACUUM ANALYZE "${BENCH_TABLE}"`);
  const guarded = scenario(stack, 'authenticated', tokens);
  const options = { connections: settings.connections, duration: Math.max(settings.duration * 5, 1) };
  if (settings.warmup > 0)
    check(guarded, await measure(stack.load, guarded, { ...options, duration: settings.warmup }));
  const before = check(guarded, await measure(stack.load, guarded, options));
  log(`  before pruning: p99 ${fixed(before.p99, 2)} ms`);
  // The load runs until the prune returns, so the figures cover the pruning and nothing else.
  const during = measure(stack.load, guarded, { ...options, duration: 3600 });
  await new Promise((resolve) => setTimeout(resolve, 200)); // let the load reach its pace first
  const started = Date.now();
  let deleted: number | null;
  try {
    deleted = await stack.library.sessions.prune();
  } finally {
    stack.load.stop();
  }
  const pruneSeconds = (Date.now() - started) / 1000;
  const result = check(guarded, await during);
  log(
    `  while pruning ${deleted ?? 'nothing (lock held)'} rows in ${fixed(pruneSeconds, 1)} s: p99 ${fixed(result.p99, 2)} ms`,
  );
  const after = check(guarded, await measure(stack.load, guarded, options));
  log(`  after pruning: p99 ${fixed(after.p99, 2)} ms`);
  const p99Ratio = result.p99 / Math.min(before.p99, after.p99);
  return { expiredRows: settings.pruneRows, deleted, pruneSeconds, before, after, during: result, p99Ratio };
}

export function renderScale(results: ScaleResults): string {
  const { machine: m, settings: s } = results;
  const lines = [
    `Measured ${results.date.slice(0, 16).replace('T', ' ')} UTC on ${m.cpu}, ${m.cores} cores, Node ${m.node}, ${m.postgres.split(' on ')[0]}; ` +
      `${s.connections} connections, pools of ${s.poolSizeUsed}, ${s.rounds} alternating rounds of ${s.duration} s. ${m.note}`,
    '',
    ...results.warnings.map((w) => `> **${w}**\n`),
    '| sessions in the table | table + indexes | floor req/s | floor p50 ms | authenticated req/s | authenticated p50 ms | authenticated p99 ms | authenticated/floor (per round) |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...results.lookup.map(
      (l) =>
        `| ${l.sessions.toLocaleString('en')} | ${fixed(l.tableMb, 0)} MB | ${fixed(l.floor.rps, 0)} | ${fixed(l.floor.p50, 2)} | ` +
        `${fixed(l.authenticated.rps, 0)} | ${fixed(l.authenticated.p50, 2)} | ${fixed(l.authenticated.p99, 2)} | ${fixed(l.authenticatedToFloor, 2)} |`,
    ),
    '',
  ];
  const c = results.cacheMemory;
  lines.push(
    c
      ? `Memory: ${c.sessions.toLocaleString('en')} cached sessions took ${fixed(c.heapDeltaBytes / 2 ** 20, 1)} MB of heap, ` +
          `**${fixed(c.bytesPerSession, 0)} bytes per cached session** (heapUsed after full collections; a session here has a ~70-byte \`data\`).`
      : 'Memory per cached session: not measured (needs --expose-gc).',
    '',
  );
  const p = results.pruning;
  lines.push(
    `Pruning: \`prune()\` deleted ${(p.deleted ?? 0).toLocaleString('en')} expired rows in ${fixed(p.pruneSeconds, 1)} s while the authenticated route was under load: ` +
      `p99 **${fixed(p.during.p99, 2)} ms** (p50 ${fixed(p.during.p50, 2)}, ${fixed(p.during.rps, 0)} req/s), against ` +
      `${fixed(p.before.p99, 2)} ms just before (p50 ${fixed(p.before.p50, 2)}, ${fixed(p.before.rps, 0)} req/s) and ` +
      `${fixed(p.after.p99, 2)} ms just after (p50 ${fixed(p.after.p50, 2)}, ${fixed(p.after.rps, 0)} req/s): ` +
      `**${fixed(p.p99Ratio, 2)}x** the lower of the two (goal ≤ 2x).`,
  );
  return lines.join('\n') + '\n';
}
