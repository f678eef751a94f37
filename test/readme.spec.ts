import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ts from 'typescript';

/**
 * Every ```ts block of the README compiles against the library, as a user's file:
 * a block whose first line is `// name.ts` is written under that name (so
 * `main.ts` can import `./app.module`), the others as block-N.ts.
 */
describe('README', () => {
  const root = join(__dirname, '..');
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);

  it('has TypeScript examples', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(5);
  });

  it('type-checks every TypeScript example', () => {
    const dir = mkdtempSync(join(tmpdir(), 'readme-'));
    try {
      const files = blocks.map((code, i) => {
        const name = /^\/\/ ([\w.-]+\.ts)/.exec(code)?.[1] ?? `block-${i}.ts`;
        const file = join(dir, name);
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
});
