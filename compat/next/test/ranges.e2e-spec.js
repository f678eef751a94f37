const fs = require('node:fs');
const path = require('node:path');
const semver = require('semver');
const { APP_DIR, CONSUMER } = require('./support/app');
const stack = require('./support/stack');

const consumerRequire = require('node:module').createRequire(path.join(APP_DIR, 'package.json'));
const CONSUMER_ROOT = path.join(APP_DIR, '..', '..');
/** Read from node_modules: not every package exports its package.json. */
const installed = (name) =>
  JSON.parse(fs.readFileSync(path.join(CONSUMER_ROOT, 'node_modules', name, 'package.json'), 'utf8')).version;
const packed = consumerRequire('nestjs-ecto-sessions/package.json');

/** The README's compatibility table as rows of cells by column title. */
function compatibilityTable() {
  const readme = fs.readFileSync(
    path.join(process.env.REPO_DIR ?? path.join(__dirname, '..', '..', '..'), 'README.md'),
    'utf8',
  );
  const section = readme.split(/^## /m).find((s) => s.startsWith('Compatibility'));
  if (!section) throw new Error('README.md has no "## Compatibility" section');
  const lines = section.split('\n').filter((l) => l.startsWith('|'));
  const cells = (line) =>
    line
      .split('|')
      .slice(1, -1)
      .map((c) => c.trim());
  const titles = cells(lines[0]);
  return lines.slice(2).map((line) => Object.fromEntries(cells(line).map((c, i) => [titles[i], c])));
}

const minor = (version) => `${semver.major(version)}.${semver.minor(version)}`;

describe(`what the package says is true of ${stack.title} (${CONSUMER} consumer)`, () => {
  it('every installed peer dependency is in the range the tarball declares', () => {
    const peers = Object.entries(packed.peerDependencies ?? {}).filter(([name]) => {
      // An optional peer this consumer does not install is left out.
      return fs.existsSync(path.join(CONSUMER_ROOT, 'node_modules', name, 'package.json'));
    });
    expect(peers.map(([name]) => name)).toEqual(
      expect.arrayContaining([
        '@nestjs/common',
        '@nestjs/core',
        '@mikro-orm/core',
        '@mikro-orm/nestjs',
        'reflect-metadata',
        'rxjs',
      ]),
    );
    for (const [name, range] of peers) {
      expect(`${name}@${installed(name)} in ${range}: ${semver.satisfies(installed(name), range)}`).toMatch(/: true$/);
    }
  });

  it("this Node is in the tarball's engines range", () => {
    expect(semver.satisfies(process.versions.node, packed.engines.node)).toBe(true);
  });

  it("the README's compatibility table names the versions this run tested", () => {
    const row = compatibilityTable().find((r) => Object.values(r)[0].toLowerCase() === stack.readmeRow);
    expect(row).toBeDefined(); // a row titled stack.readmeRow
    const platform = (name) => consumerRequire.resolve(`${name}/package.json`);
    const express = require(
      require('node:module').createRequire(platform('@nestjs/platform-express')).resolve('express/package.json'),
    ).version;
    const fastify = require(
      require('node:module').createRequire(platform('@nestjs/platform-fastify')).resolve('fastify/package.json'),
    ).version;
    expect(row.Node).toContain(`CI ${minor(process.versions.node)}`);
    expect(row.NestJS).toContain(`CI ${minor(installed('@nestjs/core'))}`);
    expect(row.MikroORM).toContain(`CI ${minor(installed('@mikro-orm/core'))}`);
    expect(row['`@mikro-orm/nestjs`']).toContain(`CI ${minor(installed('@mikro-orm/nestjs'))}`);
    expect(row.Express).toContain(`CI ${minor(express)}`);
    expect(row.Fastify).toContain(`CI ${minor(fastify)}`);
  });
});
