import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as ts from 'typescript';
import {
  codeBlocks,
  compatStacks,
  installLines,
  lineMismatches,
  quickStart,
  readReadme,
  stackOfLine,
} from './support/readme';

/**
 * What the README says, checked without installing anything (the Quick start is
 * built and run from the packed library by readme-quickstart.e2e-spec.ts):
 * every ```ts block compiles, the install lines are the stacks CI tests, and the
 * README opens with what a newcomer needs, defining its words before using them.
 */
const root = join(__dirname, '..');
const readme = readReadme();
const blocks = codeBlocks(readme)
  .filter((b) => b.lang === 'ts')
  .map((b) => b.code);
const headings = [...readme.matchAll(/^## (.+)$/gm)].map((m) => m[1]);

describe('README', () => {
  it('has TypeScript examples', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(5);
  });

  it('type-checks every TypeScript example', () => {
    const dir = mkdtempSync(join(tmpdir(), 'readme-'));
    try {
      // A block whose first line is `// file: PATH` is written there (so src/main.ts
      // can import ./app.module), the others as block-N.ts.
      const files = blocks.map((code, i) => {
        const name = /^\/\/ file: (\S+\.ts)\n/.exec(code)?.[1] ?? `block-${i}.ts`;
        const file = join(dir, name);
        mkdirSync(dirname(file), { recursive: true });
        writeFileSync(file, code);
        return file;
      });
      const program = ts.createProgram(files, {
        strict: true,
        noEmit: true,
        experimentalDecorators: true,
        emitDecoratorMetadata: true,
        esModuleInterop: true,
        skipLibCheck: true,
        target: ts.ScriptTarget.ES2022,
        module: ts.ModuleKind.CommonJS,
        moduleResolution: ts.ModuleResolutionKind.Node10,
        baseUrl: root,
        typeRoots: [join(root, 'node_modules/@types')],
        types: ['node'],
        paths: { 'nestjs-ecto-sessions': ['lib/index.ts'], '*': ['node_modules/*'] },
      });
      const problems = ts
        .getPreEmitDiagnostics(program)
        .map(
          (d) =>
            `${d.file ? d.file.fileName.replace(dir, '') : ''}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`,
        );
      expect(problems).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('opens with what it is, how to run it, Install and Quick start', () => {
    it('the two commands, then Install, then Quick start; Compatibility further down', () => {
      expect(headings.slice(0, 2)).toEqual(['Install', 'Quick start']);
      const beforeInstall = readme.slice(0, readme.indexOf('\n## Install'));
      expect(beforeInstall).toContain('npm install && npm start');
      expect(beforeInstall).toContain('npm install && npm test');
      expect(headings.indexOf('Compatibility')).toBeGreaterThan(headings.indexOf('Quick start') + 3);
    });

    it('the two commands are the scripts that do what they say', () => {
      const scripts = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts;
      expect(scripts.start).toMatch(/node dist-sample\/sample\/main\.js$/);
      expect(scripts.test).toMatch(/^jest\b/);
    });

    it('defines "kind" and "the seed" where they first appear', () => {
      const firstUse = (word: RegExp) => readme.search(word);
      const paragraphOf = (index: number) =>
        readme.slice(readme.lastIndexOf('\n\n', index), readme.indexOf('\n\n', index));
      expect(paragraphOf(firstUse(/\bkinds?\b/i))).toMatch(
        /A kind is one sort of session with its own table, options and service/,
      );
      expect(paragraphOf(firstUse(/\bseed\b/i))).toMatch(/ecto_sessions[\s\S]*called \*\*the seed\*\*/);
    });
  });

  describe('install lines, one per tested stack', () => {
    const lines = installLines(readme);
    const stacks = compatStacks();

    it('one line for Node 20 and one for Node 22, each pinning the majors', () => {
      expect(lines.map((l) => l.node)).toEqual([20, 22]);
      for (const line of lines) {
        expect(line.args[0]).toBe('nestjs-ecto-sessions');
        for (const name of ['@nestjs/common', '@nestjs/core', '@mikro-orm/nestjs']) {
          expect(line.packages.find((p) => p.name === name)?.range).toMatch(/^\^\d+$/);
        }
        // MikroORM's packages: a major, or one exact version for both (MikroORM refuses two).
        const orm = ['@mikro-orm/core', '@mikro-orm/postgresql'].map(
          (name) => line.packages.find((p) => p.name === name)?.range,
        );
        expect(orm[0]).toMatch(/^(\^\d+|\d+\.\d+\.\d+)$/);
        expect(orm[1]).toBe(orm[0]);
        // The Quick start runs on Express, from either line.
        expect(line.packages.map((p) => p.name)).toContain('@nestjs/platform-express');
      }
    });

    it('each line is a stack that .ci/stack-next.sh installs, with exactly its packages, in its ranges', () => {
      for (const line of lines) {
        const stack = stackOfLine(line, stacks);
        expect(`${line.title}: ${stack?.name ?? 'no stack in compat/next/stacks.json'}`).toMatch(/: (orm6|next)$/);
        expect(lineMismatches(line, stack!.dependencies)).toEqual([]);
      }
    });

    it("the Node 20 line is this suite's own stack (the Quick start test installs it on this Node)", () => {
      const line = lines.find((l) => l.node === 20)!;
      expect(stackOfLine(line, stacks)?.readmeRow).toBe('main');
      const installed = (name: string) =>
        JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')).version as string;
      const devDependencies = Object.fromEntries(
        line.packages.filter((p) => p.name !== 'nestjs-ecto-sessions').map((p) => [p.name, installed(p.name)]),
      );
      expect(lineMismatches(line, devDependencies)).toEqual([]);
    });
  });

  describe('the Quick start is a complete app', () => {
    const quick = quickStart(readme);
    const file = (path: string) => quick.files.find((f) => f.path === path)?.code ?? '';

    it('names its files: tsconfig, module, controllers, main', () => {
      expect(quick.files.map((f) => f.path)).toEqual(
        expect.arrayContaining(['tsconfig.json', 'src/app.module.ts', 'src/main.ts']),
      );
    });

    it('its module lists every controller it defines', () => {
      const controllers = quick.files.flatMap((f) =>
        [...f.code.matchAll(/@Controller\([^)]*\)\s*export class (\w+)/g)].map((m) => m[1]),
      );
      expect(controllers.length).toBeGreaterThanOrEqual(2);
      const listed = /controllers: \[([^\]]*)\]/.exec(file('src/app.module.ts'))?.[1] ?? '';
      for (const name of controllers) expect(listed).toContain(name);
    });

    it('one platform, Express, in the install line; no Express or Fastify types needed', () => {
      const code = quick.files.map((f) => f.code).join('\n');
      expect(code).not.toMatch(/from '(express|fastify|@nestjs\/platform-fastify)'/);
    });

    it('says what changes on MikroORM 7 (the Node 22 line), in a way .ci/stack-next.sh applies', () => {
      const main7 = quickStart(readme, { mikroOrm: 7 }).files.find((f) => f.path === 'src/main.ts')!.code;
      expect(main7).toContain('.schema.update({ safe: true })');
      expect(main7).not.toContain('.schema.updateSchema(');
    });

    it('creates its tables at start-up, and says plainly that secure: false is for plain http', () => {
      expect(file('src/main.ts')).toContain('.schema.updateSchema(');
      expect(file('src/app.module.ts')).toMatch(/cookie: \{ secure: false \}/);
      expect(file('src/app.module.ts')).toMatch(/plain http/);
      expect(file('src/app.module.ts')).toContain('clientUrl: process.env.DATABASE_URL');
    });

    it("every route with a user id in its path checks the caller may read that user's sessions", () => {
      let checked = 0;
      for (const { code } of quick.files) {
        for (const handler of code.split(/\n {2}@(?:Get|Post)/).slice(1)) {
          if (!/@Param\('id'\)/.test(handler)) continue;
          expect(handler).toMatch(/this\.mayRead\(/);
          checked++;
        }
      }
      expect(checked).toBeGreaterThanOrEqual(2);
      expect(file('src/user-sessions.controller.ts')).toContain('throw new ForbiddenException()');
    });
  });
});
