/** Types of readme.js: what the README tells a user to run, read from README.md. */
export interface PackageSpec {
  name: string;
  range: string;
}
export interface InstallLine {
  node: number;
  title: string;
  line: string;
  args: string[];
  packages: PackageSpec[];
}
export interface CompatStack {
  name: string;
  title: string;
  readmeRow: string;
  node: string;
  majors: Record<string, number>;
  overrides: Record<string, string>;
  dependencies: Record<string, string>;
}
export const ROOT: string;
export const COMPAT_EXTRAS: Record<string, string>;
export function readReadme(file?: string): string;
export function section(readme: string, title: string): string;
export function codeBlocks(text: string): { lang: string; code: string }[];
export function installLines(readme?: string): InstallLine[];
export function quickStart(
  readme?: string,
  options?: { mikroOrm?: number },
): {
  files: { path: string; code: string }[];
  devInstall: string[][];
  build: string[];
  start: string[];
};
export function satisfies(version: string, range: string): boolean;
export function compatStacks(): CompatStack[];
export function stackOfLine(line: InstallLine, stacks?: CompatStack[]): CompatStack | undefined;
export function lineMismatches(line: InstallLine, installed: Record<string, string>): string[];
