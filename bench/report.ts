import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import type { ProfileSummary } from './profile';
import { fixed, median, type Medians, type RoundResult } from './rounds';
import { DESCRIPTIONS, SCENARIOS, type ScenarioName } from './scenarios';
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
  scenarios: Record<ScenarioName, { description: string; median: Medians; rounds: RoundResult[] }>;
  ratios: Record<RatioName, Ratio>;
  /** CPU profiles of the apps' process under load on each pair the ratios compare. */
  profile: Record<ProfiledScenario, ProfileSummary> | null;
  warnings: string[];
}

/** The scenarios profiled after the rounds: the two pairs whose differences the library must keep small. */
export const PROFILED = ['floor', 'authenticated', 'public', 'cached'] as const;
export type ProfiledScenario = (typeof PROFILED)[number];

/** Read when the run starts (this module loads before anything is booted). */
const START_LOAD = loadavg()[0];

/** Each ratio of median requests/s, with the goal of issue 6. */
export const RATIOS = {
  'authenticated/floor': { of: 'authenticated', to: 'floor', goal: 0.9 },
  'authenticated/express-session': { of: 'authenticated', to: 'express-session', goal: 1.25 },
  'cached/public': { of: 'cached', to: 'public', goal: 0.85 },
} as const satisfies Record<string, { of: ScenarioName; to: ScenarioName; goal: number }>;
export type RatioName = keyof typeof RATIOS;

/** Queries per request the library aims at; the others are what they are. */
const QUERY_GOALS: Partial<Record<ScenarioName, number>> = { authenticated: 1, cached: 0 };

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
 */
export interface Ratio {
  paired: number;
  ofMedians: number;
}

export function ratiosOf(scenarios: BenchResults['scenarios']): Record<RatioName, Ratio> {
  const ratios = {} as Record<RatioName, Ratio>;
  for (const [name, { of, to }] of Object.entries(RATIOS)) {
    const against = new Map(scenarios[to].rounds.map((r) => [r.round, r.rps]));
    const perRound = scenarios[of].rounds.filter((r) => against.has(r.round)).map((r) => r.rps / against.get(r.round)!);
    ratios[name as RatioName] = {
      paired: median(perRound),
      ofMedians: scenarios[of].median.rps / scenarios[to].median.rps,
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
  lines.push('| scenario | what it does | req/s | p50 ms | p99 ms | app CPU µs/request | queries/request |');
  lines.push('|---|---|---:|---:|---:|---:|---:|');
  for (const name of SCENARIOS) {
    const { median } = results.scenarios[name];
    const goal = QUERY_GOALS[name];
    lines.push(
      `| ${name} | ${DESCRIPTIONS[name]} | ${fixed(median.rps, 0)} | ${fixed(median.p50, 2)} | ${fixed(median.p99, 2)} | ` +
        `${fixed(median.cpuPerRequest, 0)} | ` +
        `${fixed(median.queriesPerRequest, 2)}${goal === undefined ? '' : ` (goal ${goal})`} |`,
    );
  }
  const cached = results.scenarios.cached.median.queriesPerRequest;
  if (cached > 0) {
    lines.push(
      '',
      `A cache hit sends no statement; the cached route's ${fixed(cached, 2)} queries/request are its misses: ` +
        `each of the ${results.settings.tokens.toLocaleString('en')} sessions is looked up again once its entry is older than ` +
        `the cache's ttl (${CACHE.ttl}), about once per round here.`,
    );
  }
  lines.push('');
  lines.push('| ratio of req/s | median of per-round ratios | ratio of medians | goal |');
  lines.push('|---|---:|---:|---:|');
  for (const [name, { goal }] of Object.entries(RATIOS)) {
    const { paired, ofMedians } = results.ratios[name as RatioName];
    lines.push(`| ${name} | ${fixed(paired, 2)} | ${fixed(ofMedians, 2)} | ≥ ${goal} |`);
  }
  lines.push(
    '',
    'Per-round ratios compare two scenarios run seconds apart, so they hold better than the ratio of medians ' +
      'when other work on the machine comes and goes; the two differ when the machine was noisy.',
  );
  lines.push(
    '',
    "App CPU: user + system time of the apps' process per request (median over rounds), what each request costs " +
      "the apps' one thread; it too rises when other work shares the machine (fewer requests per event-loop turn, colder caches).",
  );
  if (results.profile) lines.push('', ...renderProfile(results.profile, results.scenarios));
  return lines.join('\n') + '\n';
}

function renderProfile(
  profiles: Record<ProfiledScenario, ProfileSummary>,
  scenarios: BenchResults['scenarios'],
): string[] {
  const { floor, authenticated } = profiles;
  const percent = (share: number) => `${(share * 100).toFixed(1)} %`;
  const us = (value: number) => `${value.toFixed(0)} µs`;
  const code = (name: string) => `\`${name.replace(/\|/g, '\\|')}\``;
  const cpu = (name: ProfiledScenario) => scenarios[name].median.cpuPerRequest;
  const comparison = (base: ProfiledScenario, other: ProfiledScenario) => [
    `| package | ${base} µs/request | ${other} µs/request | difference |`,
    '|---|---:|---:|---:|',
    ...packageRows(profiles[base], cpu(base), profiles[other], cpu(other)).map(
      ([name, f, a]) => `| ${name} | ${us(f)} | ${us(a)} | ${a - f >= 0 ? '+' : '−'}${us(Math.abs(a - f))} |`,
    ),
  ];
  return [
    `Where the time goes: CPU profiles of the apps' process during ${authenticated.seconds} s of load on the floor and on the ` +
      `authenticated route (\`${floor.file}\`, \`${authenticated.file}\`; they open in Chrome DevTools). The thread is busy ` +
      `${percent(1 - authenticated.idleShare)} of the time: the apps are CPU-bound, and what the library costs is CPU. ` +
      `The app CPU per request of the rounds (floor ${us(cpu('floor'))}, authenticated ${us(cpu('authenticated'))}) split ` +
      'by package as the profiles share it, with the Node core and native work (socket writes, promise jobs) charged ' +
      'to the package whose call started it:',
    '',
    ...comparison('floor', 'authenticated'),
    '',
    `The same for the public route and the cached one (\`${profiles.public.file}\`, \`${profiles.cached.file}\`):`,
    '',
    ...comparison('public', 'cached'),
    '',
    'Cached route, top functions by self time:',
    '',
    '| function | self time |',
    '|---|---:|',
    ...profiles.cached.topFunctions.map((e) => `| ${code(e.name)} | ${percent(e.share)} |`),
    '',
    'Authenticated route, top functions by self time (a native function counts for its JavaScript caller):',
    '',
    '| function | self time |',
    '|---|---:|',
    ...authenticated.topFunctions.map((e) => `| ${code(e.name)} | ${percent(e.share)} |`),
    '',
    'The guard path: inclusive time (the function and all it called, summed over its synchronous stretches) ' +
      'of the functions of the library, MikroORM, knex and pg:',
    '',
    '| function | inclusive time | per request |',
    '|---|---:|---:|',
    ...authenticated.guardPath.map(
      (e) => `| ${code(e.name)} | ${percent(e.share)} | ${us(e.share * cpu('authenticated'))} |`,
    ),
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
