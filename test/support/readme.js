// What the README tells a user to run, read from README.md itself, so that the
// tests and .ci/stack-next.sh use the very lines a user copies. Plain JavaScript:
// .ci/stack-next.sh runs it with node, the Jest suites require it.
//
//   node test/support/readme.js check-stack STACK CONSUMER_DIR
//     checks that the scratch consumer of .ci/stack-next.sh installed exactly the
//     packages of the README's install line for that stack, each in its range.
//   node test/support/readme.js quickstart STACK CONSUMER_DIR DATABASE_URL
//     builds the README's Quick start (as written for that stack's MikroORM) in
//     CONSUMER_DIR/quickstart against the consumer's packages, starts it with this
//     node, and signs in, reads /me, signs out elsewhere and signs out over HTTP.
'use strict';

const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.join(__dirname, '..', '..');
/** Packages a compat stack installs beyond a README line, and why. */
const COMPAT_EXTRAS = { '@nestjs/platform-fastify': 'the compat suite also runs every app on Fastify' };

function readReadme(file = path.join(ROOT, 'README.md')) {
  return fs.readFileSync(file, 'utf8');
}

/** The body of the `## title` section (up to the next `## `). */
function section(readme, title) {
  const found = readme.split(/^## /m).find((s) => s.startsWith(`${title}\n`));
  if (!found) throw new Error(`README.md has no "## ${title}" section`);
  return found;
}

/** The fenced code blocks of a text: `{ lang, code }`. */
function codeBlocks(text) {
  return [...text.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1], code: m[2] }));
}

/** `name@range` (or a bare name: any version) as `{ name, range }`. */
function packageSpec(arg) {
  const at = arg.indexOf('@', 1);
  return at === -1 ? { name: arg, range: '*' } : { name: arg.slice(0, at), range: arg.slice(at + 1) };
}

/**
 * The Install section's lines: each `npm install ...` line under a comment
 * `# Node 20.19+: NestJS 11, MikroORM 6`. `{ node, title, args, packages }`.
 */
function installLines(readme = readReadme()) {
  const lines = [];
  for (const block of codeBlocks(section(readme, 'Install')).filter((b) => b.lang === 'sh')) {
    let title;
    for (const line of block.code.split('\n')) {
      const heading = /^# (Node (\d+)[^:]*:.*)$/.exec(line);
      if (heading) title = heading[1];
      const install = /^npm install (.+)$/.exec(line);
      if (install) {
        if (!title) throw new Error(`README Install: no "# Node NN: ..." comment above "${line}"`);
        const args = install[1].trim().split(/\s+/);
        lines.push({ node: Number(/^Node (\d+)/.exec(title)[1]), title, line, args, packages: args.map(packageSpec) });
        title = undefined;
      }
    }
  }
  if (lines.length === 0) throw new Error('README Install: no "npm install" line');
  return lines;
}

/**
 * The Quick start: its files (every block whose first line is `// file: PATH`),
 * the `npm install -D ...` line, and the commands that build and start it.
 */
function quickStart(readme = readReadme(), { mikroOrm = 6 } = {}) {
  const text = section(readme, 'Quick start');
  const blocks = codeBlocks(text);
  const files = [];
  for (const { code } of blocks) {
    const marker = /^\/\/ file: (\S+)\n/.exec(code);
    if (marker) files.push({ path: marker[1], code: forMikroOrm(code.slice(marker[0].length), mikroOrm) });
  }
  const shellLines = blocks
    .filter((b) => b.lang === 'sh')
    .flatMap((b) => b.code.split('\n'))
    .map((l) => l.trim());
  const devInstall = shellLines.filter((l) => /^npm install -D /.test(l)).map((l) => l.split(/\s+/).slice(2));
  const build = shellLines.filter((l) => /^npx tsc\b/.test(l));
  const start = shellLines.filter((l) => /^DATABASE_URL=\S+ node \S+$/.test(l));
  return { files, devInstall, build, start };
}

/**
 * The code as the README says to write it on that MikroORM major: a comment
 * "On MikroORM 7 (...) write `A` for `B`." makes every B that follows an A.
 */
function forMikroOrm(code, major) {
  let out = code;
  for (const m of code.matchAll(/\/\/ On MikroORM (\d+)[^\n]*? write `([^`]+)` for `([^`]+)`/g)) {
    if (Number(m[1]) !== major) continue;
    const at = out.indexOf(m[0]) + m[0].length;
    out = out.slice(0, at) + out.slice(at).split(m[3]).join(m[2]);
  }
  return out;
}

/** Whether `version` is in `range`: `*`, `^N`, `^N.M.P`, `~N.M.P`, exact `N.M.P` (all this README uses). */
function satisfies(version, range) {
  const v = version.split('.').map(Number);
  if (range === '*') return true;
  const m = /^([\^~]?)(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(range);
  if (!m) throw new Error(`unsupported range "${range}"`);
  const want = [Number(m[2]), Number(m[3] ?? 0), Number(m[4] ?? 0)];
  const atLeast = v[0] !== want[0] ? v[0] > want[0] : v[1] !== want[1] ? v[1] > want[1] : v[2] >= want[2];
  if (m[1] === '^') return v[0] === want[0] && atLeast;
  if (m[1] === '~') return v[0] === want[0] && (m[3] === undefined || v[1] === want[1]) && atLeast;
  return v[0] === want[0] && (m[3] === undefined || v[1] === want[1]) && (m[4] === undefined || v[2] === want[2]);
}

/** The major a line's range or exact version names: `^6` and `6.6.16` both give 6. */
function majorOf(range) {
  return Number(/^[\^~]?(\d+)/.exec(range)?.[1]);
}

/** The stacks of compat/next/stacks.json, each with the dependencies it installs (compat/next/package.json + overrides). */
function compatStacks() {
  const stacks = JSON.parse(fs.readFileSync(path.join(ROOT, 'compat/next/stacks.json'), 'utf8'));
  const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'compat/next/package.json'), 'utf8'));
  return Object.entries(stacks).map(([name, stack]) => ({
    name,
    ...stack,
    dependencies: { ...manifest.dependencies, ...stack.overrides },
  }));
}

/** The compat stack a README install line describes: same Node major, and the majors its ranges pin. */
function stackOfLine(line, stacks = compatStacks()) {
  return stacks.find(
    (stack) =>
      stack.majors.node === line.node &&
      line.packages.every(
        ({ name, range }) => !(name in stack.majors) || range === '*' || majorOf(range) === stack.majors[name],
      ),
  );
}

/**
 * What is wrong between a README install line and the packages a stack installs
 * (`installed`: name → version): every package of the line but the library
 * itself installed, in its range; nothing else installed but COMPAT_EXTRAS.
 */
function lineMismatches(line, installed) {
  const problems = [];
  const named = new Set();
  for (const { name, range } of line.packages) {
    named.add(name);
    if (name === 'nestjs-ecto-sessions') continue;
    if (!(name in installed)) problems.push(`${name}: in the README line, not installed by the stack`);
    else if (!satisfies(installed[name], range))
      problems.push(`${name}@${installed[name]}: not in the README's ${range}`);
  }
  for (const name of Object.keys(installed)) {
    if (!named.has(name) && !(name in COMPAT_EXTRAS))
      problems.push(`${name}: installed by the stack, not in the README line`);
  }
  return problems;
}

module.exports = {
  ROOT,
  COMPAT_EXTRAS,
  readReadme,
  section,
  codeBlocks,
  installLines,
  quickStart,
  satisfies,
  compatStacks,
  stackOfLine,
  lineMismatches,
};

/** The README install line of a compat stack, or undefined. */
function lineOfStack(stackName, stacks = compatStacks()) {
  return installLines().find((l) => stackOfLine(l, stacks)?.name === stackName);
}

function checkStack(stackName, consumer) {
  const line = lineOfStack(stackName);
  if (!line) {
    console.log(`README: no install line is for stack ${stackName}; nothing to check`);
    return 0;
  }
  // What the consumer really has: its package.json's dependencies, at the versions in node_modules.
  const manifest = JSON.parse(fs.readFileSync(path.join(consumer, 'package.json'), 'utf8'));
  const installed = {};
  for (const name of Object.keys(manifest.dependencies ?? {})) {
    if (name === 'nestjs-ecto-sessions') continue;
    const file = path.join(consumer, 'node_modules', name, 'package.json');
    installed[name] = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')).version : '0.0.0-missing';
  }
  const problems = lineMismatches(line, installed);
  if (problems.length) {
    console.error(`README's install line "${line.title}" and stack ${stackName} disagree:\n  ${problems.join('\n  ')}`);
    return 1;
  }
  console.log(`README's install line "${line.title}": stack ${stackName} installs exactly its packages, in its ranges`);
  return 0;
}

/** The README's Quick start on a stack's consumer: built, started, driven over HTTP. */
async function quickStartSmoke(stackName, consumer, databaseUrl) {
  const { spawn, execFileSync } = require('node:child_process');
  const stack = compatStacks().find((s) => s.name === stackName);
  if (!stack || !lineOfStack(stackName)) {
    console.log(`README: no install line is for stack ${stackName}; the Quick start is not run on it`);
    return 0;
  }
  const dir = path.join(consumer, 'quickstart');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'package.json'), '{ "name": "quickstart", "private": true }\n');
  for (const file of quickStart(readReadme(), { mikroOrm: stack.majors['@mikro-orm/core'] }).files) {
    fs.mkdirSync(path.dirname(path.join(dir, file.path)), { recursive: true });
    fs.writeFileSync(path.join(dir, file.path), file.code);
  }
  // `npx tsc`, with the consumer's TypeScript (npx would not look in the folder above).
  execFileSync(process.execPath, [path.join(consumer, 'node_modules/typescript/bin/tsc'), '-p', dir], {
    stdio: 'inherit',
  });
  const { Client } = require(require.resolve('pg', { paths: [consumer] }));
  const pg = new Client({ connectionString: databaseUrl });
  await pg.connect();
  await pg.query('DROP TABLE IF EXISTS "sessions", "api_keys" CASCADE');
  await pg.end();
  const port = 20000 + Math.floor(Math.random() * 20000);
  const child = spawn(process.execPath, ['dist/main.js'], {
    cwd: dir,
    env: { ...process.env, DATABASE_URL: databaseUrl, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c) => (output += c));
  child.stderr.on('data', (c) => (output += c));
  const base = `http://127.0.0.1:${port}`;
  const call = async (method, url, token, body) => {
    const response = await fetch(base + url, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), 'content-type': 'application/json' },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  };
  const steps = [];
  const expect = (what, actual, wanted) => {
    steps.push(`${what}: ${actual}`);
    if (actual !== wanted) throw new Error(`${what}: got ${actual}, expected ${wanted}`);
  };
  try {
    for (let waited = 0; ; waited += 200) {
      if (child.exitCode !== null) throw new Error(`the Quick start exited (${child.exitCode}) before serving`);
      if (waited > 60_000) throw new Error('the Quick start did not serve within 60 s');
      try {
        await fetch(base + '/me');
        break;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    const here = (await call('POST', '/login', undefined, { userId: 'alice' })).body.token;
    const there = (await call('POST', '/login', undefined, { userId: 'alice' })).body.token;
    expect('GET /me', (await call('GET', '/me', here)).body?.userId, 'alice');
    expect('GET /users/alice/sessions', (await call('GET', '/users/alice/sessions', here)).body?.length, 2);
    expect("GET /users/bob/sessions (another user's)", (await call('GET', '/users/bob/sessions', here)).status, 403);
    expect('POST /logout-others', (await call('POST', '/logout-others', here)).body?.signedOut, 1);
    expect('GET /me, signed out elsewhere', (await call('GET', '/me', there)).status, 401);
    expect('POST /logout', (await call('POST', '/logout', here)).status, 201);
    expect('GET /me, signed out', (await call('GET', '/me', here)).status, 401);
    console.log(`README Quick start on ${stack.title} (node ${process.version}): ${steps.join('; ')}`);
    return 0;
  } catch (error) {
    console.error(
      `README Quick start on ${stack.title}: ${error.message}\n${steps.join('\n')}\n--- its output:\n${output}`,
    );
    return 1;
  } finally {
    child.kill('SIGTERM');
  }
}

if (require.main === module) {
  const [command, ...args] = process.argv.slice(2);
  const usage = () => {
    console.error(
      'usage: node test/support/readme.js check-stack STACK CONSUMER_DIR\n' +
        '       node test/support/readme.js quickstart STACK CONSUMER_DIR DATABASE_URL',
    );
    return 2;
  };
  const run =
    command === 'check-stack' && args.length === 2
      ? async () => checkStack(...args)
      : command === 'quickstart' && args.length === 3
        ? () => quickStartSmoke(...args)
        : async () => usage();
  run().then(
    (code) => process.exit(code),
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
}
