import { createTestApp } from './support/app';
import { sql } from './support/database';
import { CapturingLogger } from './support/http';
import { MeController } from './support/me.controller';
import { until } from './support/until';

/**
 * A table made by the previous release (no feature columns) is upgraded by
 * MikroORM's schema generator once a kind turns the features on; its sessions
 * keep authenticating, and then use the features.
 */
describe('upgrading a table of the previous release to the security features', () => {
  it('the schema generator only adds the new columns and index; old tokens still authenticate', async () => {
    const old = await createTestApp({ kinds: [{ ttl: '1h' }] });
    const { session, token } = await old.sessions().create({ userId: 'before', data: { device: 'phone' } });
    await old.close();

    const upgraded = await createTestApp({
      kinds: [
        {
          ttl: '1h',
          rotation: { grace: '1m' },
          scopes: true,
          trackLastUsed: '1m',
          maxPerUser: { max: 5 },
        },
      ],
      recreate: false,
    });
    try {
      const diff = await upgraded.orm.schema.getUpdateSchemaSQL({ wrap: false, dropTables: false });
      // Other suites' tables share this database: `dropTables: false` leaves them; nothing of this table is dropped.
      expect(diff).not.toMatch(/drop/i);
      expect(diff).toMatch(/add column "previous_auth_token_digest" varchar\(255\) null/i);
      expect(diff).toMatch(/add column "rotated_at" timestamptz null/i);
      expect(diff).toMatch(/add column "scopes" jsonb not null default '\[\]'/i);
      expect(diff).toMatch(/add column "last_used_at" timestamptz null/i);
      expect(diff).toMatch(/create index "sessions_previous_auth_token_digest_index"/i);
      await upgraded.orm.schema.updateSchema({ wrap: false, dropTables: false });
      expect(await upgraded.orm.schema.getUpdateSchemaSQL({ wrap: false, dropTables: false })).toBe('');

      const sessions = upgraded.sessions();
      const found = await sessions.authenticate(token);
      expect(found).toMatchObject({ id: session.id, userId: 'before', data: { device: 'phone' }, scopes: [] });
      expect(found!.rotatedAt).toBeNull();
      const rotated = await sessions.rotate(session);
      expect((await sessions.authenticate(rotated!.token))?.id).toBe(session.id);
      expect((await sessions.authenticate(token))?.id).toBe(session.id); // inside the grace
      const [row] = await sql<{ n: number }>(upgraded.orm, `SELECT count(*)::int AS n FROM sessions`);
      expect(row.n).toBe(1);
    } finally {
      await upgraded.close();
    }
  });
});

describe('features turned on before the table was migrated', () => {
  it('start-up names each missing column, and a failed lookup (503) says to migrate', async () => {
    const old = await createTestApp({ kinds: [{ tableName: 'not_migrated', ttl: '1h' }] });
    const { token } = await old.sessions().create({ userId: 'before' });
    await old.close();
    const lines = new CapturingLogger();
    const t = await createTestApp({
      kinds: [{ tableName: 'not_migrated', ttl: '1h', rotation: { grace: '1m' }, trackLastUsed: '1m' }],
      controllers: [MeController],
      listen: true,
      recreate: false,
      logger: lines,
    });
    try {
      await until(() => lines.lines.some((l) => /Migrating an existing table/.test(l)), 'the start-up warning');
      const warning = lines.lines.find((l) => /Migrating an existing table/.test(l))!;
      expect(warning).toMatch(/column "previous_auth_token_digest" is missing/);
      expect(warning).toMatch(/column "rotated_at" is missing/);
      expect(warning).toMatch(/column "last_used_at" is missing/);
      lines.lines.length = 0;
      const response = await fetch(`${t.url}/me`, { headers: { 'x-auth-token': token } });
      expect(response.status).toBe(503);
      expect(lines.lines.find((l) => /lookup/.test(l))).toMatch(/column .* is missing from "not_migrated"/);
    } finally {
      await t.close();
    }
  });

  it('a naive timestamp column for rotated_at is named at start-up: it must be timestamptz', async () => {
    const setup = await createTestApp({ kinds: [{ tableName: 'naive_rotation', ttl: '1h' }] });
    await sql(setup.orm, 'ALTER TABLE naive_rotation ADD COLUMN previous_auth_token_digest varchar(255) NULL');
    await sql(setup.orm, 'ALTER TABLE naive_rotation ADD COLUMN rotated_at timestamp(0) without time zone NULL');
    await setup.close();
    const lines = new CapturingLogger();
    const t = await createTestApp({
      kinds: [{ tableName: 'naive_rotation', ttl: '1h', rotation: { grace: '1m' } }],
      recreate: false,
      logger: lines,
    });
    try {
      await until(() => lines.lines.some((l) => /timestamptz/.test(l)), 'the start-up warning');
      expect(lines.lines.find((l) => /timestamptz/.test(l))).toMatch(
        /column "rotated_at" is a timestamp without time zone; make it timestamptz/,
      );
    } finally {
      await t.close();
    }
  });
});
