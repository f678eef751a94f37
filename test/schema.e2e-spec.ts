import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { MikroORM } from '@mikro-orm/core';
import { Migrator } from '@mikro-orm/migrations';
import { resolveSessionsOptions, sessionEntity } from '../lib';
import { ormOptions, sql } from './support/database';

describe('creating the table', () => {
  const entities = [
    sessionEntity(resolveSessionsOptions({ tableName: 'schema_sessions' })),
    sessionEntity(
      resolveSessionsOptions({
        name: 'apiKeys',
        tableName: 'schema_api_keys',
        columns: { userId: {}, projectId: { type: 'uuid', index: true, nullable: false } },
      }),
    ),
  ];

  it("MikroORM's schema generator makes the table, the unique digest index and the user_id and expires_at indexes", async () => {
    const orm = await MikroORM.init({ ...ormOptions(), entities });
    try {
      const ddl = await orm.schema.getCreateSchemaSQL({ wrap: false });
      expect(ddl).toContain(
        'create table "schema_sessions" ("id" uuid not null, "auth_token_digest" varchar(255) not null, ' +
          `"data" jsonb not null default '{}', "expires_at" timestamptz null, "inserted_at" timestamptz not null, ` +
          '"updated_at" timestamptz not null, "user_id" varchar(255) null, constraint "schema_sessions_pkey" primary key ("id"));',
      );
      expect(ddl).toContain(
        'alter table "schema_sessions" add constraint "schema_sessions_auth_token_digest_index" unique ("auth_token_digest");',
      );
      expect(ddl).toContain('create index "schema_sessions_user_id_index" on "schema_sessions" ("user_id");');
      expect(ddl).toContain('create index "schema_sessions_expires_at_index" on "schema_sessions" ("expires_at");');
      expect(ddl).toContain('"project_id" uuid not null');
      expect(ddl).toContain('create index "schema_api_keys_project_id_index" on "schema_api_keys" ("project_id");');
      expect(ddl).not.toContain('create index "schema_api_keys_user_id_index"'); // not asked for
    } finally {
      await orm.close();
    }
  });

  it('MikroORM migrations: a generated migration creates the table, and nothing is left to change', async () => {
    // Inside the project (git-ignored), so the generated file can require @mikro-orm/migrations.
    const artifacts = join(__dirname, 'artifacts');
    mkdirSync(artifacts, { recursive: true });
    const dir = mkdtempSync(join(artifacts, 'migrations-'));
    const orm = await MikroORM.init({
      ...ormOptions(),
      entities: [entities[0]],
      extensions: [Migrator],
      migrations: { path: dir, emit: 'js', tableName: 'schema_migrations', snapshot: false },
    });
    try {
      await sql(orm, 'DROP TABLE IF EXISTS "schema_sessions", "schema_migrations"');
      const migrator = orm.getMigrator();
      const { code, fileName } = await migrator.createMigration();
      expect(readdirSync(dir)).toContain(fileName);
      expect(code).toMatch(/create table \\?"schema_sessions\\?"/);
      expect(code).toContain('schema_sessions_auth_token_digest_index');
      await migrator.up();
      const tables = await sql<{ n: string }>(
        orm,
        "SELECT count(*) AS n FROM pg_tables WHERE tablename = 'schema_sessions'",
      );
      expect(Number(tables[0].n)).toBe(1);
      expect(await orm.schema.getUpdateSchemaSQL({ wrap: false })).toBe('');
    } finally {
      await sql(orm, 'DROP TABLE IF EXISTS "schema_sessions", "schema_migrations"');
      await orm.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
