import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBench } from '../bench/bench';
import { RATIOS } from '../bench/report';
import { runScale } from '../bench/scale';
import { SCENARIOS } from '../bench/scenarios';
import { serverCpuReader, serverCpuUsed } from '../bench/server-cpu';
import { onPglite } from './support/database';
import { DEFAULT_SETTINGS, type BenchSettings } from '../bench/settings';

/**
 * The harness of `npm run bench`, in one very short round on the test run's
 * database (embedded PGlite unless DATABASE_URL is set). It checks the shape
 * of what the harness reports, never the speed: this machine is shared and noisy.
 */
describe('npm run bench (smoke)', () => {
  let outDir: string;
  const settings = (): BenchSettings => ({
    ...DEFAULT_SETTINGS,
    databaseUrl: process.env.DATABASE_URL,
    sessions: 1_000,
    tokens: 50,
    rounds: 1,
    duration: 0.5,
    warmup: 0,
    connections: 4,
    profile: 0.5,
    outDir,
    scaleSizes: [200, 1_000],
    pruneRows: 2_000,
    cachedSessions: 100,
  });
  const finite = (value: unknown) => typeof value === 'number' && Number.isFinite(value);

  beforeEach(() => {
    outDir = mkdtempSync(join(tmpdir(), 'ecto-bench-'));
  });
  afterEach(() => rmSync(outDir, { recursive: true, force: true }));

  it('measures every scenario of both apps, the ratios and the profiles, and writes latest.json and latest.md', async () => {
    const results = await runBench(settings(), () => undefined);
    const url = process.env.DATABASE_URL;
    const localServer = !onPglite() && !!url && serverCpuReader(url, false) !== undefined;

    for (const name of SCENARIOS) {
      const { median, rounds } = results.scenarios[name]!;
      expect(rounds).toHaveLength(1);
      for (const value of [median.rps, median.p50, median.p99, median.queriesPerRequest])
        expect(finite(value)).toBe(true);
      expect(median.rps).toBeGreaterThan(0);
      expect(rounds[0]).toMatchObject({ non2xx: 0, errors: 0, timeouts: 0 });
      // The server's CPU is read from /proc when it is a process of this machine; never for embedded PGlite.
      if (localServer) expect(median.serverCpuPerRequest).toBeGreaterThanOrEqual(0);
      else expect(median.serverCpuPerRequest).toBeNaN();
    }
    for (const ratio of Object.keys(RATIOS) as Array<keyof typeof RATIOS>) {
      const { paired, ofMedians, cpuDifference } = results.ratios[ratio]!;
      expect(finite(paired) && finite(ofMedians) && finite(cpuDifference)).toBe(true);
    }
    // Statement counts hold whatever the speed, give or take a background statement (the
    // cache's listener retrying on PGlite): about none without a database, one with.
    for (const name of ['public', 'mixed-public'] as const)
      expect(results.scenarios[name]!.median.queriesPerRequest).toBeLessThan(0.1);
    for (const name of ['authenticated', 'mixed-authenticated'] as const)
      expect(results.scenarios[name]!.median.queriesPerRequest).toBeGreaterThan(0.9);
    expect(results.machine).toMatchObject({
      cores: expect.any(Number),
      node: process.version,
      postgres: expect.stringMatching(/PostgreSQL/),
    });
    expect(results.profile?.authenticated?.topFunctions.length).toBeGreaterThan(0);
    expect(results.profile?.floor?.requests).toBeGreaterThan(0);
    expect(results.profile?.cached?.requests).toBeGreaterThan(0);
    expect(results.profile?.['nest-guard']?.requests).toBeGreaterThan(0);
    expect(results.profile?.['mixed-authenticated']?.libraryFunctions.length).toBeGreaterThan(0);

    const written = JSON.parse(readFileSync(join(outDir, 'latest.json'), 'utf8'));
    expect(Object.keys(written.scenarios).sort()).toEqual([...SCENARIOS].sort());
    const markdown = readFileSync(join(outDir, 'latest.md'), 'utf8');
    for (const name of [...SCENARIOS, ...Object.keys(RATIOS)]) expect(markdown).toContain(`| ${name} |`);
    expect(markdown).toContain(
      "The library's own code per request, in the plain app and behind the mixed app's middleware",
    );
    expect(markdown).toContain('The nest-guard reference route');
    expect(existsSync(join(outDir, 'authenticated.cpuprofile'))).toBe(true);
    expect(existsSync(join(outDir, 'nest-guard.cpuprofile'))).toBe(true);
    expect(existsSync(join(outDir, 'mixed-authenticated.cpuprofile'))).toBe(true);
  }, 180_000);

  it("counts the server's CPU per process: one that exited meanwhile (autovacuum) takes nothing away", () => {
    const before = new Map([
      ['10', 1_000],
      ['11', 5_000],
    ]);
    const after = new Map([
      ['10', 1_300],
      ['12', 200],
    ]);
    expect(serverCpuUsed(before, after)).toBe(500);
  });

  it('measures only the apps asked for', async () => {
    const results = await runBench({ ...settings(), apps: ['mixed'], profile: 0 }, () => undefined);

    expect(Object.keys(results.scenarios).sort()).toEqual(
      ['mixed-authenticated', 'mixed-cached', 'mixed-floor', 'mixed-public'].sort(),
    );
    expect(Object.keys(results.ratios).sort()).toEqual([
      'mixed-authenticated/mixed-floor',
      'mixed-cached/mixed-public',
    ]);
  }, 180_000);

  it('scale mode reports lookup cost by table size, the cache memory and p99 while pruning', async () => {
    const results = await runScale(settings(), () => undefined);

    expect(results.lookup.map((l) => l.sessions)).toEqual([200, 1_000]);
    for (const l of results.lookup)
      for (const m of [l.floor, l.authenticated]) expect(finite(m.rps) && finite(m.p50)).toBe(true);
    // jest runs without --expose-gc: the harness says so rather than guessing.
    if (results.cacheMemory) expect(finite(results.cacheMemory.bytesPerSession)).toBe(true);
    else expect(results.warnings.join(' ')).toMatch(/expose-gc/);
    expect(results.pruning.deleted).toBe(2_000);
    expect(finite(results.pruning.p99Ratio)).toBe(true);
    expect(readFileSync(join(outDir, 'scale.md'), 'utf8')).toContain('| sessions in the table |');
  }, 180_000);
});
