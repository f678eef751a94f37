import { MikroORM } from '@mikro-orm/core';
import { randomUUID } from 'node:crypto';
import { EctoSessionsModule, generateToken, digest, SessionsService } from '../lib';
import { Test } from '@nestjs/testing';
import { MikroOrmModule } from '@mikro-orm/nestjs';
import { ormOptions, poolRunning, sql } from './support/database';

/** The table `EctoSessions.Migrations.up(table_name: "sessions", extra_fields: [{:user_id, :string}])` makes. */
const ECTO_DDL = [
  'DROP TABLE IF EXISTS "sessions"',
  `CREATE TABLE "sessions" (
    "id" uuid NOT NULL,
    "auth_token_digest" varchar(255) NOT NULL,
    "data" jsonb DEFAULT '{}' NOT NULL,
    "expires_at" timestamp(0) without time zone NULL,
    "user_id" varchar(255) NOT NULL,
    "inserted_at" timestamp(0) without time zone NOT NULL,
    "updated_at" timestamp(0) without time zone NOT NULL,
    PRIMARY KEY ("id")
  )`,
  'CREATE UNIQUE INDEX "sessions_auth_token_digest_index" ON "sessions" ("auth_token_digest")',
  'CREATE INDEX "sessions_user_id_index" ON "sessions" ("user_id")',
];

/** Naive UTC wall time, as Ecto's `:utc_datetime` is sent to a `timestamp` column. */
const naive = (date: Date) =>
  date
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, '');

describe('tables made by the Elixir library', () => {
  let orm: MikroORM;
  let sessions: SessionsService;
  let close: () => Promise<void>;
  const secret = 'your-secret-salt';

  beforeAll(async () => {
    // The server session in a zone far from UTC too, besides the process (TZ=Pacific/Chatham in npm test).
    const moduleRef = await Test.createTestingModule({
      imports: [
        MikroOrmModule.forRoot({
          ...ormOptions(undefined, { pool: poolRunning("SET TIME ZONE 'Asia/Kathmandu'", 1) }),
          autoLoadEntities: true,
        }),
        EctoSessionsModule.forRoot({ secret, hashAlgorithm: 'sha256' }),
      ],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    orm = app.get(MikroORM);
    sessions = app.get(SessionsService);
    close = () => app.close();
    for (const statement of ECTO_DDL) await sql(orm, statement);
  });
  afterAll(() => close());

  it('runs in a time zone far from UTC', async () => {
    expect(new Date().getTimezoneOffset()).not.toBe(0);
    const [{ tz }] = await sql<{ tz: string }>(orm, "SELECT current_setting('TimeZone') AS tz");
    expect(tz).toBe('Asia/Kathmandu');
  });

  it('authenticates a token the Elixir library issued, reading naive UTC times as UTC', async () => {
    const token = generateToken(64); // what AuthToken.generate_token/1 gives
    const id = randomUUID();
    const now = new Date(Math.floor(Date.now() / 1000) * 1000);
    const expires = new Date(now.getTime() + 7 * 86400_000);
    await sql(
      orm,
      `INSERT INTO "sessions" ("id", "auth_token_digest", "data", "expires_at", "user_id", "inserted_at", "updated_at")
       VALUES (?, ?, ?::jsonb, ?::timestamp, ?, ?::timestamp, ?::timestamp)`,
      [
        id,
        digest(token, 'sha256', secret),
        JSON.stringify({ device: 'phoenix' }),
        naive(expires),
        'u-ecto',
        naive(now),
        naive(now),
      ],
    );
    const session = await sessions.authenticate(token);
    expect(session).toMatchObject({ id, userId: 'u-ecto', data: { device: 'phoenix' } });
    expect(session!.expiresAt!.toISOString()).toBe(expires.toISOString());
    expect(session!.insertedAt.toISOString()).toBe(now.toISOString());
  });

  it('refuses a row that expired, by UTC', async () => {
    const token = generateToken(64);
    const past = new Date(Date.now() - 60_000); // one minute ago in UTC; hours ahead in local time
    await sql(
      orm,
      `INSERT INTO "sessions" ("id", "auth_token_digest", "expires_at", "user_id", "inserted_at", "updated_at")
       VALUES (?, ?, ?::timestamp, 'u-ecto', ?::timestamp, ?::timestamp)`,
      [randomUUID(), digest(token, 'sha256', secret), naive(past), naive(past), naive(past)],
    );
    expect(await sessions.authenticate(token)).toBeNull();
  });

  it('writes naive UTC times the Elixir library reads back', async () => {
    const { session, token } = await sessions.create({ userId: 'u-node', data: { via: 'nest' } });
    const [row] = await sql<{ expires_at: string; inserted_at: string }>(
      orm,
      'SELECT expires_at::text AS expires_at, inserted_at::text AS inserted_at FROM "sessions" WHERE id = ?',
      [session.id],
    );
    expect(row.inserted_at).toBe(naive(new Date(Math.round(session.insertedAt.getTime() / 1000) * 1000)));
    expect(new Date(row.expires_at + 'Z').getTime()).toBe(Math.round(session.expiresAt!.getTime() / 1000) * 1000);
    expect((await sessions.authenticate(token))?.id).toBe(session.id);
    // Sliding extension, expire and listing work on the legacy columns too.
    await sql(orm, 'UPDATE "sessions" SET expires_at = ?::timestamp WHERE id = ?', [
      naive(new Date(Date.now() + 3600_000)),
      session.id,
    ]);
    expect((await sessions.authenticate(token))!.expiresAt!.getTime()).toBeGreaterThan(Date.now() + 6 * 86400_000);
    expect((await sessions.expire(session))!.isExpired).toBe(true);
    expect(await sessions.count({ userId: 'u-node', status: 'expired' })).toBe(1);
    expect(await sessions.deleteAll({ userId: 'u-node' })).toBe(1);
  });
});
