import type { MikroORM } from '@mikro-orm/core';
import { types as pgTypes } from 'pg';
import { createTestApp, type TestApp } from './support/app';
import { onPglite, sql } from './support/database';

/**
 * PostgreSQL prints timestamps per `DateStyle`; in `SQL` and `German` styles
 * with DMY the day and month swap places. Sessions must read the same instants
 * whatever the database, the role or the connection says.
 */
const STYLES = [
  'ISO, MDY',
  'ISO, DMY',
  'SQL, MDY',
  'SQL, DMY',
  'Postgres, MDY',
  'Postgres, DMY',
  'German, MDY',
  'German, DMY',
];
const ROLE = 'ecto_sessions_datestyle';
const future = new Date('2099-02-03T04:05:06.789Z'); // day and month both <= 12: a swap would show
const past = new Date('2026-03-04T05:06:07.089Z');

async function checkReads(t: TestApp): Promise<void> {
  const sessions = t.sessions();
  const userId = `ds-${Math.random()}`;
  const before = Date.now();
  const { session, token } = await sessions.create({ userId });
  expect(Math.abs(session.insertedAt.getTime() - before)).toBeLessThan(5_000);
  expect(Math.abs(session.expiresAt!.getTime() - (before + 3_600_000))).toBeLessThan(5_000);
  const found = await sessions.authenticate(token, { extend: false });
  expect(found?.expiresAt?.getTime()).toBe(session.expiresAt!.getTime());
  expect(found?.insertedAt.getTime()).toBe(session.insertedAt.getTime());
  expect(found?.isExpired).toBe(false);

  await sql(t.orm, 'UPDATE sessions SET expires_at = ? WHERE id = ?', [future.toISOString(), session.id]);
  expect((await sessions.authenticate(token, { extend: false }))?.expiresAt?.toISOString()).toBe(future.toISOString());

  const { session: old, token: oldToken } = await sessions.create({ userId });
  await sql(t.orm, 'UPDATE sessions SET expires_at = ? WHERE id = ?', [past.toISOString(), old.id]);
  expect(await sessions.authenticate(oldToken)).toBeNull();
  const [listed] = await sessions.list({ id: old.id, status: 'all' });
  expect(listed.expiresAt?.toISOString()).toBe(past.toISOString());
  expect(listed.isExpired).toBe(true);
  expect(await sessions.count({ userId, status: 'expired' })).toBe(1);

  // A stale session slides: the expiry written and read back is now + ttl, not a swapped date.
  await sql(t.orm, `UPDATE sessions SET expires_at = now() + interval '10 minutes' WHERE id = ?`, [session.id]);
  const slid = await sessions.authenticate(token);
  expect(Math.abs(slid!.expiresAt!.getTime() - (Date.now() + 3_600_000))).toBeLessThan(5_000);
  const [reread] = await sessions.list({ id: session.id });
  expect(reread.expiresAt?.getTime()).toBe(slid!.expiresAt!.getTime());

  const expired = await sessions.expire(session);
  expect(expired?.isExpired).toBe(true);
  expect(await sessions.authenticate(token)).toBeNull();
}

describe('timestamps under every DateStyle', () => {
  const kinds = [{ ttl: '1h', extendThreshold: '5m' }];

  describe.each(STYLES)('set on the connection: %s', (style) => {
    let t: TestApp;
    beforeAll(async () => {
      if (onPglite()) {
        // PGlite serves every connection from one backend: a SET reaches them all.
        t = await createTestApp({ kinds });
        await sql(t.orm, `SET DateStyle = '${style}'`);
      } else {
        const connection = { options: `-c DateStyle=${style.replace(' ', '')}` };
        t = await createTestApp({ kinds, orm: { driverOptions: { connection } } });
        expect((await sql<{ DateStyle: string }>(t.orm, 'SHOW DateStyle'))[0].DateStyle).toBe(style);
      }
    });
    afterAll(async () => {
      if (onPglite()) await sql(t.orm, 'RESET DateStyle').catch(() => undefined);
      await t?.close();
    });
    it('reads and writes the same instants', () => checkReads(t));
  });

  // Database and role settings apply to new connections of a real server.
  (onPglite() ? describe.skip : describe)('set on the database or the role (real PostgreSQL)', () => {
    let admin: TestApp;
    let database: string;
    beforeAll(async () => {
      admin = await createTestApp({ kinds });
      database = (await sql<{ db: string }>(admin.orm, 'SELECT current_database() AS db'))[0].db;
      await sql(admin.orm, `DROP ROLE IF EXISTS ${ROLE}`).catch(() => undefined);
      await sql(admin.orm, `CREATE ROLE ${ROLE} LOGIN`).catch(() => undefined);
      await sql(admin.orm, `GRANT ALL ON TABLE sessions TO ${ROLE}`);
    });
    afterAll(async () => {
      await sql(admin.orm, `ALTER DATABASE "${database}" RESET DateStyle`);
      await sql(admin.orm, `REVOKE ALL ON TABLE sessions FROM ${ROLE}`).catch(() => undefined);
      await sql(admin.orm, `DROP ROLE IF EXISTS ${ROLE}`).catch(() => undefined);
      await admin.close();
    });

    const boot = async (url: string, check: (orm: MikroORM) => Promise<void>) => {
      const t = await createTestApp({ kinds, recreate: false, orm: { clientUrl: url } });
      try {
        await check(t.orm);
        await checkReads(t);
      } finally {
        await t.close();
      }
    };

    it.each(STYLES)('ALTER DATABASE ... SET DateStyle = %s', async (style) => {
      await sql(admin.orm, `ALTER DATABASE "${database}" SET DateStyle = '${style}'`);
      try {
        await boot(process.env.DATABASE_URL!, async (orm) => {
          expect((await sql<{ DateStyle: string }>(orm, 'SHOW DateStyle'))[0].DateStyle).toBe(style);
        });
      } finally {
        await sql(admin.orm, `ALTER DATABASE "${database}" RESET DateStyle`);
      }
    });

    it.each(STYLES)('ALTER ROLE ... SET DateStyle = %s', async (style) => {
      await sql(admin.orm, `ALTER ROLE ${ROLE} SET DateStyle = '${style}'`);
      const url = new URL(process.env.DATABASE_URL!);
      url.username = ROLE;
      await boot(url.toString(), async (orm) => {
        expect((await sql<{ DateStyle: string }>(orm, 'SHOW DateStyle'))[0].DateStyle).toBe(style);
      });
    });

    it('a role whose TimeZone, extra_float_digits and IntervalStyle are all odd reads the same instants', async () => {
      await sql(
        admin.orm,
        `ALTER ROLE ${ROLE} SET TimeZone = 'America/St_Johns'; ` +
          `ALTER ROLE ${ROLE} SET extra_float_digits = -15; ALTER ROLE ${ROLE} SET IntervalStyle = 'sql_standard'`,
      );
      try {
        const url = new URL(process.env.DATABASE_URL!);
        url.username = ROLE;
        await boot(url.toString(), async (orm) => {
          const [setting] = await sql<{ tz: string; digits: string }>(
            orm,
            `SELECT current_setting('TimeZone') AS tz, current_setting('extra_float_digits') AS digits`,
          );
          expect(setting).toEqual({ tz: 'America/St_Johns', digits: '-15' });
        });
      } finally {
        await sql(admin.orm, `ALTER ROLE ${ROLE} RESET ALL`);
      }
    });
  });
});

describe('timestamps whatever the app has set in pg', () => {
  let t: TestApp;
  const saved = [1700, 20, 1184].map((oid) => [oid, pgTypes.getTypeParser(oid, 'text')] as const);
  beforeAll(async () => {
    // Parsers apps set globally: numeric and int8 as numbers or BigInt, timestamptz left as text.
    pgTypes.setTypeParser(1700, (value: string) => Number.parseFloat(value) + 1);
    pgTypes.setTypeParser(20, (value: string) => BigInt(value));
    pgTypes.setTypeParser(1184, (value: string) => `not a date: ${value}`);
    t = await createTestApp({ kinds: [{ ttl: '1h', extendThreshold: '5m' }] });
  });
  afterAll(async () => {
    for (const [oid, parser] of saved) pgTypes.setTypeParser(oid, parser);
    await t?.close();
  });

  it('reads the same instants, to the millisecond', async () => {
    const { session, token } = await t.sessions().create({ userId: 'types' });
    await sql(t.orm, 'UPDATE sessions SET expires_at = ? WHERE id = ?', [future.toISOString(), session.id]);
    const found = await t.sessions().authenticate(token, { extend: false });
    expect(found?.expiresAt?.toISOString()).toBe(future.toISOString());
    expect(found?.insertedAt.getTime()).toBe(session.insertedAt.getTime());
  });

  it('reads an infinite expiry as the farthest instant a Date holds, and the session as valid', async () => {
    const { session, token } = await t.sessions().create({ userId: 'types' });
    await sql(t.orm, `UPDATE sessions SET expires_at = 'infinity' WHERE id = ?`, [session.id]);
    const found = await t.sessions().authenticate(token, { extend: false });
    expect(found?.expiresAt?.getTime()).toBe(8.64e15);
    expect(found?.isExpired).toBe(false);
    await sql(t.orm, `UPDATE sessions SET expires_at = '-infinity' WHERE id = ?`, [session.id]);
    expect(await t.sessions().authenticate(token)).toBeNull();
    const [listed] = await t.sessions().list({ id: session.id, status: 'all' });
    expect(listed.expiresAt?.getTime()).toBe(-8.64e15);
  });
});
