import { MeController } from './support/me.controller';
import { createTestApp } from './support/app';
import { CapturingLogger } from './support/http';

describe('a missing table says so', () => {
  it('at start-up, once, and on each failed lookup: still 503 (never 401), naming the table and where to read', async () => {
    const lines = new CapturingLogger();
    // Its own table, never created: the app boots against a database without it.
    const t = await createTestApp({
      kinds: [{ tableName: 'sessions_never_created' }],
      controllers: [MeController],
      listen: true,
      recreate: false,
      logger: lines,
    });
    try {
      for (let i = 0; i < 500 && !lines.lines.some((l) => /does not exist/.test(l)); i++)
        await new Promise((r) => setTimeout(r, 20));
      const atStart = lines.lines.filter((l) => /"sessions_never_created" does not exist/.test(l));
      expect(atStart).toHaveLength(1);
      expect(atStart[0]).toMatch(/Creating the table/);
      lines.lines.length = 0;
      const token = 'a'.repeat(64);
      for (let i = 0; i < 2; i++) {
        const response = await fetch(`${t.url}/me`, { headers: { 'x-auth-token': token } });
        expect(response.status).toBe(503);
      }
      const lookups = lines.lines.filter((l) => /lookup/.test(l));
      expect(lookups).toHaveLength(2);
      for (const line of lookups) {
        expect(line).toMatch(/"sessions_never_created" does not exist/);
        expect(line).toMatch(/Creating the table/);
      }
    } finally {
      await t.close();
    }
  });
});
