import type { LoadGenerator, LoadResult } from './load-generator';
import { queryCount } from './query-counter';
import { type ServerCpuSnapshot, serverCpuUsed } from './server-cpu';
import type { Scenario } from './scenarios';

/** One scenario's stretch of load in one round, with the statements it sent. */
export interface RoundResult extends Measured {
  round: number;
}

/** A stretch of load, with what it cost the apps' process. */
export interface Measured extends LoadResult {
  queriesPerRequest: number;
  /** CPU time (user + system, all threads) of the apps' process per request, in µs. */
  cpuPerRequest: number;
  /** CPU time of the local PostgreSQL server's processes per request, in µs; NaN when not readable (`server-cpu.ts`). */
  serverCpuPerRequest: number;
}

/** Medians across rounds: a noisy round on a shared machine moves a median less than a mean. */
export interface Medians {
  rps: number;
  p50: number;
  p99: number;
  queriesPerRequest: number;
  cpuPerRequest: number;
  serverCpuPerRequest: number;
}

export interface RoundsOptions {
  rounds: number;
  duration: number;
  warmup: number;
  connections: number;
  /** The local PostgreSQL server's processes' CPU time so far, when it can be read. */
  serverCpu?: () => ServerCpuSnapshot;
  log(line: string): void;
}

/** Loads one scenario once and counts the statements its requests sent. */
export async function measure(
  load: LoadGenerator,
  scenario: Scenario,
  options: { connections: number; duration: number; serverCpu?: () => ServerCpuSnapshot },
): Promise<Measured> {
  // The server's snapshot first: reading /proc takes a millisecond or two, which is no request's.
  const server = options.serverCpu?.();
  const [queries, cpu] = [queryCount.value, process.cpuUsage()];
  const result = await load.run({ ...scenario.target, connections: options.connections, duration: options.duration });
  const used = process.cpuUsage(cpu);
  const serverUsed = server ? serverCpuUsed(server, options.serverCpu!()) : NaN;
  const requests = Math.max(1, result.requests);
  // Requests still in flight when the generator stops may add a statement or two: a rounding error over thousands.
  return {
    ...result,
    queriesPerRequest: (queryCount.value - queries) / requests,
    cpuPerRequest: (used.user + used.system) / requests,
    serverCpuPerRequest: serverUsed / requests,
  };
}

/**
 * Warms every scenario up, then runs `rounds` rounds; each round runs every
 * scenario once, starting one further along each time, so no scenario always
 * runs first (cold) or after the same neighbour. A non-2xx answer or a client
 * error fails the run: a fast 401 is no measurement.
 */
export async function runRounds(
  load: LoadGenerator,
  scenarios: Scenario[],
  options: RoundsOptions,
): Promise<Map<string, RoundResult[]>> {
  const results = new Map<string, RoundResult[]>(scenarios.map((s) => [s.name, []]));
  if (options.warmup > 0) {
    for (const scenario of scenarios) {
      options.log(`  warm-up ${scenario.name}`);
      check(scenario, await measure(load, scenario, { connections: options.connections, duration: options.warmup }));
    }
  }
  for (let round = 1; round <= options.rounds; round++) {
    for (let i = 0; i < scenarios.length; i++) {
      const scenario = scenarios[(i + round - 1) % scenarios.length];
      const result = check(scenario, await measure(load, scenario, options));
      results.get(scenario.name)!.push({ round, ...result });
      options.log(
        `  round ${round}/${options.rounds} ${scenario.name.padEnd(16)} ${fixed(result.rps, 0).padStart(7)} req/s` +
          `  p50 ${fixed(result.p50, 2)} ms  p99 ${fixed(result.p99, 2)} ms  ${fixed(result.queriesPerRequest, 2)} q/req` +
          `  ${fixed(result.cpuPerRequest, 0)} µs CPU/req  ${fixed(result.serverCpuPerRequest, 0)} µs server CPU/req`,
      );
    }
  }
  return results;
}

export function check<T extends LoadResult>(scenario: Scenario, result: T): T {
  if (result.non2xx || result.errors || result.timeouts || result.requests === 0) {
    throw new Error(
      `scenario ${scenario.name} (${scenario.target.url}): ${result.requests} ok, ${result.non2xx} non-2xx, ` +
        `${result.errors} errors, ${result.timeouts} timeouts; refusing to report it`,
    );
  }
  return result;
}

export function medians(rounds: RoundResult[]): Medians {
  return {
    rps: median(rounds.map((r) => r.rps)),
    p50: median(rounds.map((r) => r.p50)),
    p99: median(rounds.map((r) => r.p99)),
    queriesPerRequest: median(rounds.map((r) => r.queriesPerRequest)),
    cpuPerRequest: median(rounds.map((r) => r.cpuPerRequest)),
    serverCpuPerRequest: median(rounds.map((r) => r.serverCpuPerRequest)),
  };
}

export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export function fixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : String(value);
}
