import { createTestApp } from './support/app';
import { sql } from './support/database';

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
