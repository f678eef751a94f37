// A Jest reporter: at the end of the run, just before Jest's counts, every skipped
// test, by file, with why.
// The reason is what the file printed when it skipped (a console line saying
// "skipped" or "skipping", e.g. "test/pooler skipped: needs a real server"),
// else the condition that a skipped block's title names in parentheses
// ("faults (real PostgreSQL)"), else it says that none was given. Written to
// stderr, like Jest's own summary, so that `--json` on stdout stays JSON.
//
// Jest keeps a file's console lines for reporters when it runs several files;
// a single-file run prints them as they come (above), and --silent drops them.
'use strict';

const path = require('node:path');

const SKIPPED = new Set(['pending', 'skipped', 'todo', 'disabled']);
const SAYS_WHY = /\bskipp(?:ed|ing)\b/i;

class SkippedReporter {
  constructor(globalConfig) {
    this.rootDir = globalConfig.rootDir;
    // Jest keeps console lines for reporters only when it neither prints them as they come nor drops them.
    this.kept = !globalConfig.verbose && !globalConfig.silent;
    /** test file → { tests, printed: Set<string> } */
    this.skipped = new Map();
  }

  onTestResult(_test, result) {
    const tests = result.testResults.filter((t) => SKIPPED.has(t.status));
    if (tests.length === 0) return;
    const printed = new Set(
      (result.console ?? []).filter((line) => SAYS_WHY.test(line.message)).map((line) => line.message.trim()),
    );
    this.skipped.set(result.testFilePath, { tests, printed });
  }

  onRunComplete() {
    if (this.skipped.size === 0) return;
    const count = [...this.skipped.values()].reduce((n, e) => n + e.tests.length, 0);
    const kind = process.env.TEST_DATABASE_KIND;
    const where =
      kind === 'pglite' ? 'embedded PGlite' : kind === 'postgres' ? 'the server at DATABASE_URL' : undefined;
    const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;
    const out = [
      `\nSkipped: ${plural(count, 'test')} in ${plural(this.skipped.size, 'file')}${where ? ` (this run: ${where})` : ''}`,
    ];
    for (const file of [...this.skipped.keys()].sort()) {
      const { tests, printed } = this.skipped.get(file);
      const reasons = [...printed];
      if (reasons.length === 0) {
        const named = new Set(
          tests.flatMap((t) =>
            [...t.ancestorTitles, t.title].flatMap((title) =>
              [...title.matchAll(/\(([^()]+)\)\s*$/g)].map((m) => m[1]),
            ),
          ),
        );
        const none = this.kept ? 'no reason printed' : 'reason not kept (a single-file, --verbose or --silent run)';
        reasons.push(named.size ? `${none}; its title says (${[...named].join('), (')})` : none);
      }
      out.push(`  ${path.relative(this.rootDir, file)} (${tests.length}): ${reasons.join(' | ')}`);
      for (const t of tests) {
        out.push(`    - ${[...t.ancestorTitles, t.title].join(' › ')}${t.status === 'todo' ? ' (todo)' : ''}`);
      }
    }
    process.stderr.write(out.join('\n') + '\n');
  }
}

module.exports = SkippedReporter;
