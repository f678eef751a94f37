import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULTS } from '../lib/options/defaults';

/** The README's options table: option name → its default cell and its meaning. */
function readmeOptions(): Map<string, { default: string; meaning: string }> {
  const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
  const rows = new Map<string, { default: string; meaning: string }>();
  for (const line of readme.split('\n')) {
    const match = /^\| `(\w+)`(?: \[[^\]]+\])? \| (.*?) \|\s?(.*?)\s?\|$/.exec(line);
    if (match && !rows.has(match[1])) rows.set(match[1], { default: match[2], meaning: match[3] });
  }
  return rows;
}

/** A default as the README writes it. */
function written(value: unknown): string[] {
  if (value === null || value === '') return ['none', 'off'];
  if (typeof value === 'string') return [`\`'${value}'\``];
  return [`\`${String(value)}\``];
}

describe('README and code agree on every default', () => {
  const table = readmeOptions();
  const simple = Object.entries(DEFAULTS).filter(([, value]) => typeof value !== 'object' || value === null);

  it.each(simple)('%s', (option, value) => {
    const row = table.get(option);
    expect(row).toBeDefined();
    expect(written(value).some((form) => row!.default.startsWith(form))).toBe(true);
  });

  it('cache: off unless asked; when on, its ttl and max', () => {
    const row = table.get('cache')!;
    expect(row.default).toBe('off');
    expect(row.meaning).toContain(`{ ttl: '${DEFAULTS.cache.ttl}', max: ${DEFAULTS.cache.max} }`);
  });

  it('cookie: each attribute', () => {
    const row = table.get('cookie')!;
    for (const [key, value] of Object.entries(DEFAULTS.cookie)) {
      expect(row.default).toContain(`${key}: ${typeof value === 'string' ? `'${value}'` : value}`);
    }
  });
});
