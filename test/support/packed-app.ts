import { type ChildProcess, spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * A fresh app outside the repository that installs the library as a user does:
 * from the `npm pack` tarball, with registry packages, built with its own tsc and
 * run with node. Used by the README's Quick start test.
 */

const ROOT = join(__dirname, '..', '..');

/** Runs a command; throws with its output when it fails. */
export function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): string {
  const result: SpawnSyncReturns<string> = spawnSync(command, args, { cwd, env, encoding: 'utf8', timeout: 300_000 });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
  if (result.status !== 0) {
    throw new Error(
      `\`${[command, ...args].join(' ')}\` in ${cwd} failed (${result.status ?? result.signal}):\n${output}`,
    );
  }
  return output;
}

/**
 * `npm pack` of the working tree, without touching the repository's dist/: the
 * files that build and ship the package are copied to a scratch folder (with
 * node_modules linked), where `npm pack` runs `prepack` (the build) as usual.
 */
export function packLibrary(destination: string): string {
  const stage = mkdtempSync(join(tmpdir(), 'ecto-sessions-pack-'));
  try {
    const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    const shipped: string[] = manifest.files.filter((f: string) => f !== 'dist');
    for (const entry of ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'lib', ...shipped]) {
      cpSync(join(ROOT, entry), join(stage, entry), { recursive: true });
    }
    symlinkSync(join(ROOT, 'node_modules'), join(stage, 'node_modules'), 'dir');
    mkdirSync(destination, { recursive: true });
    const output = run('npm', ['pack', '--pack-destination', destination, '--loglevel=error'], stage);
    const name = output.trim().split('\n').pop()!.trim();
    const tarball = join(destination, name);
    if (!existsSync(tarball)) throw new Error(`npm pack made no ${tarball}:\n${output}`);
    return tarball;
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

const NPM_FLAGS = ['--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'];

/**
 * A folder with `npm init -y` run and then each install command (npm install
 * arguments), `nestjs-ecto-sessions` standing for the tarball. The installed
 * folder is kept under the OS temp dir, keyed by the tarball's content, the
 * commands and the Node version, so a second run (CI runs the suite twice)
 * skips the install; sources and build output are laid anew by the caller.
 */
export function installApp(tarball: string, installs: string[][]): { dir: string; reused: boolean; notes: string[] } {
  const key = createHash('sha256')
    .update(readFileSync(tarball))
    .update(JSON.stringify(installs))
    .update(process.version)
    .digest('hex')
    .slice(0, 16);
  const cache = join(tmpdir(), 'nestjs-ecto-sessions-packed-app');
  const dir = join(cache, key);
  const marker = join(dir, '.installed');
  if (existsSync(marker)) return { dir, reused: true, notes: readFileSync(marker, 'utf8').split('\n').filter(Boolean) };
  // One installed app at a time is kept.
  if (existsSync(cache))
    for (const old of readdirSync(cache)) rmSync(join(cache, old), { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const kept = join(dir, 'vendor', 'nestjs-ecto-sessions.tgz');
  mkdirSync(dirname(kept), { recursive: true });
  copyFileSync(tarball, kept);
  run('npm', ['init', '-y', '--loglevel=error'], dir);
  const notes: string[] = [];
  for (const args of installs) {
    const packages = args.map((a) => (a === 'nestjs-ecto-sessions' ? kept : a));
    for (let attempt = 0; ; attempt++) {
      try {
        run('npm', ['install', ...packages, ...NPM_FLAGS], dir);
        break;
      } catch (error) {
        const gap = attempt < 3 ? registryGap(String(error), packages, dir) : undefined;
        if (!gap) throw error;
        packages[gap.index] = gap.spec;
        notes.push(gap.note);
      }
    }
  }
  writeFileSync(join(dir, '.installed'), notes.join('\n'));
  return { dir, reused: false, notes };
}

/**
 * When the registry lists a version whose own dependency it lacks (npm's
 * ETARGET; seen on a registry mirror that holds `@mikro-orm/postgresql@6.6.17`
 * but not the `@mikro-orm/knex@6.6.17` it requires), the package of the line
 * that requires it is narrowed, within the line's own range, to its newest
 * version below the one that does. Returns the new spec and what was done, for
 * the test to say; `undefined` for other errors.
 */
function registryGap(
  error: string,
  packages: string[],
  dir: string,
): { index: number; spec: string; note: string } | undefined {
  const missing = /No matching version found for (@?[^@\s]+)@(\d+\.\d+\.\d+)\./.exec(error);
  if (!missing) return undefined;
  const [, name, version] = missing;
  for (const [index, spec] of packages.entries()) {
    if (spec.startsWith('/') || !/^@?[^@]+@/.test(spec)) continue; // the tarball, or a bare name
    const found = JSON.parse(run('npm', ['view', spec, 'version', 'dependencies', '--json', '--loglevel=error'], dir));
    const semver = (v: string) => v.split('.').map(Number);
    const byVersion = (x: { version: string }, y: { version: string }) => {
      const [a, b] = [semver(x.version), semver(y.version)];
      return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
    };
    const versions: { version: string; dependencies?: Record<string, string> }[] = (
      Array.isArray(found) ? found : [found]
    )
      .filter((v: { version: string }) => /^\d+\.\d+\.\d+$/.test(v.version))
      .sort(byVersion);
    const culprit = versions.findIndex((v) => v.dependencies?.[name] === version);
    if (culprit <= 0) continue;
    const narrowed = `${spec.slice(0, spec.lastIndexOf('@'))}@${versions[culprit - 1].version}`;
    return {
      index,
      spec: narrowed,
      note: `the registry lacks ${name}@${version}, which ${spec} resolves to ${versions[culprit].version} requires; installed ${narrowed} (in the line's range) instead`,
    };
  }
  return undefined;
}

/** Writes files (path relative to the app) after removing what an earlier run built. */
export function layOut(dir: string, files: { path: string; code: string }[]): void {
  for (const stale of ['src', 'dist', 'tsconfig.json', 'tsconfig.tsbuildinfo']) {
    rmSync(join(dir, stale), { recursive: true, force: true });
  }
  for (const file of files) {
    mkdirSync(dirname(join(dir, file.path)), { recursive: true });
    writeFileSync(join(dir, file.path), file.code);
  }
}

export interface RunningApp {
  url: string;
  output(): string;
  stop(): Promise<void>;
}

/** Starts `node <args>` in `dir` with PORT=`port`, and resolves once it answers HTTP there. */
export async function startNodeApp(
  dir: string,
  args: string[],
  port: number,
  env: NodeJS.ProcessEnv,
  probePath = '/',
): Promise<RunningApp> {
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: dir,
    env: { ...process.env, ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const app: RunningApp = {
    url,
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(kill);
    },
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the app exited (${child.exitCode}) before serving:\n${output}`);
    try {
      await fetch(url + probePath);
      return app;
    } catch {
      if (Date.now() > deadline) {
        await app.stop();
        throw new Error(`the app did not serve within 60 s:\n${output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}
