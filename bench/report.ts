import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import type { ProfileSummary } from './profile';
import { fixed, median, type Medians, type RoundResult } from './rounds';
import { type AppName, APPS, DESCRIPTIONS, SCENARIOS, type ScenarioName, scenarioOf } from './scenarios';
import type { BenchSettings } from './settings';
import { CACHE } from './stack';

export interface Machine {
  cpu: string;
  cores: number;
  memoryGb: number;
  node: string;
  postgres: string;
  /** `postgresql`, or `pglite` (figures not comparable). */
  database: 'postgresql' | 'pglite';
  /** 1-minute load average when the run started and when it ended: how busy the shared machine was. */
  loadAverage: { start: number; end: number };
  note: string;
}

export interface BenchResults {
  date: string;
  machine: Machine;
  settings: Omit<BenchSettings, 'databaseUrl' | 'outDir'> & { poolSizeUsed: number };
  /** The scenarios of the apps the run measured (`settings.apps`). */
  scenarios: Partial<Record<ScenarioName, ScenarioResult>>;
  ratios: Partial<Record<RatioName, Ratio>>;
  /** CPU profiles of the apps' process under load on each pair the ratios compare. */
  profile: Partial<Record<ProfiledScenario, ProfileSummary>> | null;
  warnings: string[];
}

export interface ScenarioResult {
  description: string;
  median: Medians;
  rounds: RoundResult[];
}

/** The scenarios profiled after the rounds, in each app: the two pairs whose differences the library must keep small. */
export const PROFILED = [
  'floor',
  'authenticated',
  'public',
  'cached',
  'nest-guard',
  'mixed-floor',
  'mixed-authenticated',
  'mixed-public',
  'mixed-cached',
] as const satisfies readonly ScenarioName[];
export type ProfiledScenario = (typeof PROFILED)[number];

/** Read when the run starts (this module loads before anything is booted). */
const START_LOAD = loadavg()[0];

/**
 * Each ratio of median requests/s, with its goal (issue 12's, for the median of
 * per-round ratios; issue 6 asked 0.9 and 0.85); both terms of a ratio run in the same app.
 */
export const RATIOS = {
  'authenticated/floor': { app: 'plain', of: 'authenticated', to: 'floor', goal: 0.95 },
  'authenticated/express-session': { app: 'plain', of: 'authenticated', to: 'express-session', goal: 1.25 },
  'cached/public': { app: 'plain', of: 'cached', to: 'public', goal: 0.9 },
  // References, no goals: what Nest charges any guard, and what the library adds to that.
  'nest-guard/public': { app: 'plain', of: 'nest-guard', to: 'public', goal: undefined },
  'cached/nest-guard': { app: 'plain', of: 'cached', to: 'nest-guard', goal: undefined },
  'mixed-authenticated/mixed-floor': { app: 'mixed', of: 'mixed-authenticated', to: 'mixed-floor', goal: 0.95 },
  'mixed-cached/mixed-public': { app: 'mixed', of: 'mixed-cached', to: 'mixed-public', goal: 0.9 },
} as const satisfies Record<string, { app: AppName; of: ScenarioName; to: ScenarioName; goal: number | undefined }>;
export type RatioName = keyof typeof RATIOS;

/** Queries per request the library aims at; the others are what they are. */
const QUERY_GOALS: Partial<Record<ScenarioName, number>> = {
  authenticated: 1,
  cached: 0,
  'mixed-authenticated': 1,
  'mixed-cached': 0,
};

/** Writes `<name>.json` and `<name>.md` into the results folder. */
export function writeResults(outDir: string, name: string, results: object, markdown: string): void {
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, `${name}.json`), JSON.stringify(results, null, 2) + '\n');
  writeFileSync(join(outDir, `${name}.md`), markdown);
}

export function describeMachine(postgres: string, embedded: boolean): Machine {
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    postgres,
    database: embedded ? 'pglite' : 'postgresql',
    loadAverage: { start: START_LOAD, end: loadavg()[0] },
    note:
      `${cpus().length} cores shared by the apps (one Node process), the load generator (another) and ` +
      `PostgreSQL, on a machine other work may use too (1-minute load average ${START_LOAD.toFixed(1)} at the start, ` +
      `${loadavg()[0].toFixed(1)} at the end, this run's own processes counting for about 2 to 3): ` +
      'compare ratios within one run, not figures across runs.',
  };
}

/**
 * Two readings of each ratio of requests/s. `paired`: the median of the
 * ratios within each round, where both scenarios ran seconds apart; it holds
 * when other work on the machine comes and goes during the run. `ofMedians`:
 * the ratio of the two medians. When they disagree much, the machine was noisy.
 * `cpuDifference`: what the first route costs the apps' process per request more
 * than the second (µs, median of the per-round differences): the library's
 * cost in CPU, which a noisy machine moves less than requests/s.
 * `serverCpuDifference`: the same for the local PostgreSQL server's processes
 * (NaN when not readable): what the route's statements cost the database.
 */
export interface Ratio {
  paired: number;
  ofMedians: number;
  cpuDifference: number;
  serverCpuDifference: number;
}

export function ratiosOf(scenarios: BenchResults['scenarios']): BenchResults['ratios'] {
  const ratios: BenchResults['ratios'] = {};
  for (const [name, { of: ofName, to: toName }] of Object.entries(RATIOS)) {
    const [of, to] = [scenarios[ofName], scenarios[toName]];
    if (!of || !to) continue; // an app the run left out
    const against = new Map(to.rounds.map((r) => [r.round, r]));
    const pairs = of.rounds.filter((r) => against.has(r.round)).map((r) => [r, against.get(r.round)!] as const);
    ratios[name as RatioName] = {
      paired: median(pairs.map(([a, b]) => a.rps / b.rps)),
      ofMedians: of.median.rps / to.median.rps,
      cpuDifference: median(pairs.map(([a, b]) => a.cpuPerRequest - b.cpuPerRequest)),
      serverCpuDifference: median(pairs.map(([a, b]) => a.serverCpuPerRequest - b.serverCpuPerRequest)),
    };
  }
  return ratios;
}

/** The Markdown the README shows: settings, the table of medians, the ratios, and where the time goes. */
export function renderMarkdown(results: BenchResults): string {
  const { machine: m, settings: s } = results;
  const lines: string[] = [];
  lines.push(
    `Measured ${results.date.slice(0, 16).replace('T', ' ')} UTC on ${m.cpu}, ${m.cores} cores, ${m.memoryGb} GB, Node ${m.node}, ${m.postgres.split(' on ')[0]}.`,
  );
  lines.push('');
  for (const warning of results.warnings) lines.push(`> **${warning}**`, '');
  lines.push(
    `${s.rounds} alternating rounds of ${s.duration} s per scenario, ${s.connections} connections, ` +
      `database pools of ${s.poolSizeUsed}, ${s.sessions.toLocaleString('en')} sessions in each table, ` +
      `requests rotating over ${s.tokens.toLocaleString('en')} of them. Medians across rounds. ${m.note}`,
  );
  lines.push('');
  if (results.scenarios['mixed-public']) {
    lines.push(
      'The mixed-* scenarios are the same routes in the mixed app: cookie-parser and express-session ' +
        '(connect-pg-simple store) mounted app-wide, as in an app migrating off express-session; their requests ' +
        'carry no express-session cookie, so the middleware makes a new, unsaved session for each. Both apps run ' +
        "in the same rounds; each ratio compares two routes of one app, so the two apps' ratios are comparable.",
      '',
    );
  }
  lines.push(
    '| scenario | what it does | req/s | p50 ms | p99 ms | app CPU µs/request | server CPU µs/request | queries/request |',
  );
  lines.push('|---|---|---:|---:|---:|---:|---:|---:|');
  for (const name of SCENARIOS) {
    const scenario = results.scenarios[name];
    if (!scenario) continue;
    const { median } = scenario;
    const goal = QUERY_GOALS[name];
    lines.push(
      `| ${name} | ${DESCRIPTIONS[name]} | ${fixed(median.rps, 0)} | ${fixed(median.p50, 2)} | ${fixed(median.p99, 2)} | ` +
        `${fixed(median.cpuPerRequest, 0)} | ${Number.isFinite(median.serverCpuPerRequest) ? fixed(median.serverCpuPerRequest, 0) : '—'} | ` +
        `${fixed(median.queriesPerRequest, 2)}${goal === undefined ? '' : ` (goal ${goal})`} |`,
    );
  }
  const cached = Math.max(
    ...(['cached', 'mixed-cached'] as const).map((name) => results.scenarios[name]?.median.queriesPerRequest ?? 0),
  );
  if (cached > 0) {
    lines.push(
      '',
      `A cache hit sends no statement; the cached route's ${fixed(cached, 2)} queries/request are its misses: ` +
        `each of the ${results.settings.tokens.toLocaleString('en')} sessions is looked up again once its entry is older than ` +
        `the cache's ttl (${CACHE.ttl}), about once per round here.`,
    );
  }
  lines.push('');
  lines.push(
    '| ratio of req/s | app | median of per-round ratios | ratio of medians | goal | app CPU µs/request, difference | server CPU µs/request, difference |',
  );
  lines.push('|---|---|---:|---:|---:|---:|---:|');
  const signed = (value: number) =>
    Number.isFinite(value) ? `${value >= 0 ? '+' : '−'}${fixed(Math.abs(value), 0)}` : '—';
  for (const [name, { app, goal }] of Object.entries(RATIOS)) {
    const ratio = results.ratios[name as RatioName];
    if (!ratio) continue;
    const { paired, ofMedians, cpuDifference, serverCpuDifference } = ratio;
    lines.push(
      `| ${name} | ${app} | ${fixed(paired, 2)} | ${fixed(ofMedians, 2)} | ${goal === undefined ? '—' : `≥ ${goal}`} | ${signed(cpuDifference)} | ${signed(serverCpuDifference)} |`,
    );
  }
  lines.push(
    '',
    'Per-round ratios compare two scenarios run seconds apart, so they hold better than the ratio of medians ' +
      'when other work on the machine comes and goes; the two differ when the machine was noisy. The last column is ' +
      "what the first route costs the apps' process per request more than the second (median of the per-round " +
      "differences): what the library adds, in the plain app and behind the mixed app's middleware; the last, " +
      'what its statements add on the database server.',
  );
  lines.push(
    '',
    "App CPU: user + system time of the apps' process per request (median over rounds), what each request costs " +
      "the apps' one thread; it too rises when other work shares the machine (fewer requests per event-loop turn, colder caches). " +
      "Server CPU: user + system time of the local PostgreSQL server's processes per request (from /proc, 10 ms ticks; " +
      'every postgres process counts), the other work the cores share: parsing and planning each statement, ' +
      'since none is prepared (transaction poolers), is most of it.',
  );
  if (results.profile) lines.push('', ...renderProfile(results.profile, results.scenarios));
  return lines.join('\n') + '\n';
}

function renderProfile(profiles: BenchResults['profile'] & object, scenarios: BenchResults['scenarios']): string[] {
  const percent = (share: number) => `${(share * 100).toFixed(1)} %`;
  const us = (value: number) => `${value.toFixed(0)} µs`;
  const code = (name: string) => `\`${name.replace(/\|/g, '\\|')}\``;
  const cpu = (name: ProfiledScenario) => scenarios[name]?.median.cpuPerRequest ?? NaN;
  const comparison = (base: ProfiledScenario, other: ProfiledScenario) => [
    `| package | ${base} µs/request | ${other} µs/request | difference |`,
    '|---|---:|---:|---:|',
    ...packageRows(profiles[base]!, cpu(base), profiles[other]!, cpu(other)).map(
      ([name, f, a]) => `| ${name} | ${us(f)} | ${us(a)} | ${a - f >= 0 ? '+' : '−'}${us(Math.abs(a - f))} |`,
    ),
  ];
  const topFunctions = (name: ProfiledScenario) => [
    '| function | self time |',
    '|---|---:|',
    ...profiles[name]!.topFunctions.map((e) => `| ${code(e.name)} | ${percent(e.share)} |`),
  ];
  const lines: string[] = [];
  let detailed = false; // top functions and the guard path once, for the first app profiled
  for (const app of APPS) {
    const [floor, authenticated, pub, cached] = (['floor', 'authenticated', 'public', 'cached'] as const).map(
      (route) => scenarioOf(app, route) as ProfiledScenario,
    );
    const [f, a] = [profiles[floor], profiles[authenticated]];
    if (!f || !a || !profiles[pub] || !profiles[cached]) continue;
    lines.push(
      `Where the time goes in the ${app} app: CPU profiles of the apps' process during ${a.seconds} s of load on each ` +
        `route (\`${f.file}\`, \`${a.file}\`, \`${profiles[pub].file}\`, \`${profiles[cached].file}\`; they open in ` +
        `Chrome DevTools). The thread is busy ${percent(1 - a.idleShare)} of the time on the ${authenticated} route: ` +
        `the apps are CPU-bound, and what the library costs is CPU. The app CPU per request of the rounds ` +
        `(${floor} ${us(cpu(floor))}, ${authenticated} ${us(cpu(authenticated))}) split by package as the profiles ` +
        'share it, with the Node core and native work (socket writes, promise jobs) charged to the package whose call started it:',
      '',
      ...comparison(floor, authenticated),
      '',
      `The same for the ${pub} route and the ${cached} one:`,
      '',
      ...comparison(pub, cached),
      '',
    );
    if (app === 'plain' && profiles['nest-guard'])
      lines.push(
        `The nest-guard reference route (Nest's guard and parameter pipelines, nothing of the library's) and the ${cached} one, both in the cached app:`,
        '',
        ...comparison('nest-guard', cached),
        '',
      );
    if (detailed) continue;
    detailed = true;
    lines.push(
      `${cached} route, top functions by self time:`,
      '',
      ...topFunctions(cached),
      '',
      `${authenticated} route, top functions by self time (a native function counts for its JavaScript caller):`,
      '',
      ...topFunctions(authenticated),
      '',
      `The guard path of the ${authenticated} route: inclusive time (the function and all it called, summed over its ` +
        'synchronous stretches) of the functions of the library, MikroORM, knex and pg:',
      '',
      '| function | inclusive time | per request |',
      '|---|---:|---:|',
      ...a.guardPath.map((e) => `| ${code(e.name)} | ${percent(e.share)} | ${us(e.share * cpu(authenticated))} |`),
      '',
    );
  }
  if (profiles.floor && profiles['mixed-floor']) {
    lines.push(
      "What the mixed app's middleware costs a route that does the same work (the floor, in each app):",
      '',
      ...comparison('floor', 'mixed-floor'),
      '',
    );
  }
  return [...lines, ...renderLibraryByApp(profiles)];
}

/**
 * The library's own code per request on the same routes in the plain and the
 * mixed app: whether the guard pays for what other middleware put on the request.
 * Each profile's shares of its own CPU per request (both taken while sampled).
 */
function renderLibraryByApp(profiles: BenchResults['profile'] & object): string[] {
  const columns = (['authenticated', 'mixed-authenticated', 'cached', 'mixed-cached'] as const).filter(
    (name) => profiles[name],
  );
  if (!columns.some((name) => name.startsWith('mixed-')) || !columns.some((name) => !name.startsWith('mixed-')))
    return [];
  const us = (value: number | undefined) => (value === undefined ? '—' : `${value.toFixed(1)} µs`);
  const code = (name: string) => `\`${name.replace(/\|/g, '\\|')}\``;
  const selfTime = (name: (typeof columns)[number]) => {
    const { libraryFunctions, byPackage, cpuPerRequest } = profiles[name]!;
    const library = byPackage.find((e) => e.name === 'nestjs-ecto-sessions')?.share ?? 0;
    return {
      cpu: cpuPerRequest,
      library: library * cpuPerRequest,
      functions: new Map(libraryFunctions.map((e) => [e.name, e.share * cpuPerRequest])),
    };
  };
  const costs = columns.map(selfTime);
  const functions = [...new Set(costs.flatMap((c) => [...c.functions.keys()]))]
    .map((name) => ({ name, most: Math.max(...costs.map((c) => c.functions.get(name) ?? 0)) }))
    .sort((x, y) => y.most - x.most)
    .slice(0, 10);
  return [
    "The library's own code per request, in the plain app and behind the mixed app's middleware (each profile's " +
      'self time of the library as a share of the CPU per request measured while it sampled, profiler included; ' +
      'the functions the profiles charge most):',
    '',
    `| | ${columns.join(' | ')} |`,
    `|---|${columns.map(() => '---:').join('|')}|`,
    `| app CPU per request while profiled | ${costs.map((c) => us(c.cpu)).join(' | ')} |`,
    `| **library code, self time** | ${costs.map((c) => `**${us(c.library)}**`).join(' | ')} |`,
    ...functions.map(({ name }) => `| ${code(name)} | ${costs.map((c) => us(c.functions.get(name))).join(' | ')} |`),
    '',
  ];
}

/** µs per request by package (charged to the caller): each profile's shares of its scenario's CPU per request. */
function packageRows(
  base: ProfileSummary,
  baseCpu: number,
  other: ProfileSummary,
  otherCpu: number,
): Array<[string, number, number]> {
  const perRequest = (p: ProfileSummary, cpu: number) => new Map(p.byCaller.map((e) => [e.name, e.share * cpu]));
  const [f, a] = [perRequest(base, baseCpu), perRequest(other, otherCpu)];
  return [...new Set([...f.keys(), ...a.keys()])]
    .map((name): [string, number, number] => [name, f.get(name) ?? 0, a.get(name) ?? 0])
    .sort((x, y) => Math.max(y[1], y[2]) - Math.max(x[1], x[2]))
    .slice(0, 14);
}
