import { mkdirSync } from 'node:fs';
import { profileFile, profileWhile } from './profile';
import { type BenchResults, describeMachine, PROFILED, ratiosOf, renderMarkdown, writeResults } from './report';
import { check, measure, medians, runRounds } from './rounds';
import { mainScenarios } from './scenarios';
import { createExpressSessionTable, createLibraryTable, seedExpressSession, seedLibrary } from './seed';
import type { BenchSettings } from './settings';
import { cacheServing, openStack } from './stack';

/**
 * The main run (issue 6, part 1; the mixed app, issue 12): seeds both stores,
 * measures the scenarios of the plain and the mixed app in the same alternating
 * rounds, profiles the routes each ratio compares, and writes latest.json and
 * latest.md to `settings.outDir`.
 */
export async function runBench(
  settings: BenchSettings,
  log: (line: string) => void = console.log,
): Promise<BenchResults> {
  const plain = settings.apps.includes('plain');
  const stack = await openStack(settings, log, { expressSession: plain, mixed: settings.apps.includes('mixed') });
  try {
    const { admin, library, cached, mixed, expressSession, load } = stack;
    log(
      `Seeding ${settings.sessions.toLocaleString('en')} sessions per store on ${stack.database.version.split(' on ')[0]}`,
    );
    await createLibraryTable(library);
    const tokens = await seedLibrary(admin, library.sessions, {
      total: settings.sessions,
      tokens: settings.tokens,
      log,
    });
    // The mixed app's requests carry no express-session cookie: its store is never read.
    await createExpressSessionTable(admin);
    const cookies = expressSession
      ? await seedExpressSession(admin, expressSession.url, { total: settings.sessions, tokens: settings.tokens, log })
      : [];
    await cacheServing(stack, stack.database.embedded ? 2_000 : 10_000);

    const scenarios = mainScenarios(
      {
        library: library.url,
        cached: cached.url,
        expressSession: expressSession?.url ?? '',
        mixed: mixed && { library: mixed.library.url, cached: mixed.cached.url },
      },
      settings.apps,
      tokens,
      cookies,
    );
    log(
      `Measuring the ${settings.apps.join(' and ')} app${settings.apps.length > 1 ? 's' : ''}: ${settings.rounds} rounds x ${scenarios.length} scenarios x ${settings.duration} s, ${settings.connections} connections, pools of ${stack.poolSize}`,
    );
    const rounds = await runRounds(load, scenarios, { ...settings, serverCpu: stack.serverCpu, log });

    let profile: BenchResults['profile'] = null;
    if (settings.profile > 0) {
      mkdirSync(settings.outDir, { recursive: true });
      // Each pair of a ratio, so the differences say what the library adds to the same work.
      const profiled: NonNullable<BenchResults['profile']> = {};
      for (const name of PROFILED) {
        const scenario = scenarios.find((s) => s.name === name);
        if (!scenario) continue;
        log(`Profiling the ${name} route for ${settings.profile} s`);
        profiled[name] = await profileWhile(
          async () =>
            check(
              scenario,
              await measure(load, scenario, { connections: settings.connections, duration: settings.profile }),
            ),
          profileFile(settings.outDir, name),
          settings.profile,
        );
      }
      profile = profiled;
    }

    const perScenario = Object.fromEntries(
      scenarios.map((s) => [
        s.name,
        { description: s.description, median: medians(rounds.get(s.name)!), rounds: rounds.get(s.name)! },
      ]),
    );
    const { databaseUrl: _url, outDir: _out, ...recorded } = settings;
    const results: BenchResults = {
      date: new Date().toISOString(),
      machine: describeMachine(stack.database.version, stack.database.embedded),
      settings: { ...recorded, poolSizeUsed: stack.poolSize },
      scenarios: perScenario,
      ratios: ratiosOf(perScenario),
      profile,
      warnings: stack.warnings,
    };
    const markdown = renderMarkdown(results);
    writeResults(settings.outDir, 'latest', results, markdown);
    log('\n' + markdown);
    return results;
  } finally {
    await stack.close();
  }
}
