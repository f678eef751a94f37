import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * What package.json and the README's compatibility table say about the main stack
 * (the one these tests run on) must be true of it. `.ci/stack-next.sh` checks the
 * same of the newest stack, in a scratch app that installs the packed tarball.
 */
const root = join(__dirname, '..');
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
/** Read from node_modules: not every package exports its package.json. */
const installed = (name: string): string =>
  JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')).version;

type Version = [number, number, number];
const parse = (version: string): Version => {
  const match = /^(\d+)\.(\d+)\.(\d+)/.exec(version.trim());
  if (!match) throw new Error(`not a version: ${version}`);
  return [Number(match[1]), Number(match[2]), Number(match[3])];
};
const compare = (a: Version, b: Version) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];

/** The `^x.y.z`, `>=x.y.z` and `||` ranges this package uses (no prerelease). */
function satisfies(version: string, range: string): boolean {
  const v = parse(version);
  return range.split('||').some((part) => {
    const term = part.trim();
    if (term.startsWith('^')) {
      const min = parse(term.slice(1));
      return compare(v, min) >= 0 && v[0] === min[0] && (min[0] !== 0 || v[1] === min[1]);
    }
    if (term.startsWith('>=')) return compare(v, parse(term.slice(2))) >= 0;
    throw new Error(`unsupported range term "${term}" in "${range}"`);
  });
}

function compatibilityRow(stack: RegExp): Record<string, string> {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = readme.split(/^## /m).find((s) => s.startsWith('Compatibility'));
  if (!section) throw new Error('README.md has no "## Compatibility" section');
  const lines = section.split('\n').filter((line) => line.startsWith('|'));
  const cells = (line: string) =>
    line
      .split('|')
      .slice(1, -1)
      .map((cell) => cell.trim());
  const titles = cells(lines[0]);
  const row = lines
    .slice(2)
    .map(cells)
    .find((c) => stack.test(c[0]));
  if (!row) throw new Error(`no row for ${stack} in the compatibility table`);
  return Object.fromEntries(row.map((cell, i) => [titles[i], cell]));
}

const minor = (version: string) => parse(version).slice(0, 2).join('.');

describe('compatibility claims, on the main stack', () => {
  it('every peer dependency installed here is in its declared range', () => {
    for (const [name, range] of Object.entries<string>(manifest.peerDependencies)) {
      expect(`${name}@${installed(name)} in ${range}: ${satisfies(installed(name), range)}`).toMatch(/: true$/);
    }
  });

  it('this Node is in the engines range', () => {
    expect(satisfies(process.versions.node, manifest.engines.node)).toBe(true);
  });

  it('the package is one CommonJS build with its types', () => {
    expect(manifest.type).toBe('commonjs');
    expect(manifest.exports['.']).toEqual({ types: './dist/index.d.ts', default: './dist/index.js' });
  });

  it("the README's table names the main stack's versions", () => {
    const row = compatibilityRow(/^main$/i);
    const platformDependency = (platform: string, name: string) =>
      JSON.parse(
        readFileSync(
          require.resolve(`${name}/package.json`, { paths: [join(root, 'node_modules', platform)] }),
          'utf8',
        ),
      ).version;
    expect(row.Node).toContain(`CI ${minor(process.versions.node)}`);
    expect(row.NestJS).toContain(`CI ${minor(installed('@nestjs/core'))}`);
    expect(row.MikroORM).toContain(`CI ${minor(installed('@mikro-orm/core'))}`);
    expect(row['`@mikro-orm/nestjs`']).toContain(`CI ${minor(installed('@mikro-orm/nestjs'))}`);
    expect(row.Express).toContain(`CI ${minor(platformDependency('@nestjs/platform-express', 'express'))}`);
    expect(row.Fastify).toContain(`CI ${minor(platformDependency('@nestjs/platform-fastify', 'fastify'))}`);
  });
});
