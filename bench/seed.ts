import { readFileSync } from 'node:fs';
import { MikroORM } from '@mikro-orm/core';
import type { Pool } from 'pg';
import { digest, generateToken, type SessionsService } from '../lib';
import { EXPRESS_SESSION_TABLE } from './express-session-app';
import { BENCH_TABLE, type LibraryApp } from './library-app';

/** Rows per INSERT ... SELECT: a million in one statement would hold one long transaction and a lot of WAL. */
const BATCH = 100_000;

const DATA = JSON.stringify({ userAgent: 'Mozilla/5.0 (X11; Linux x86_64) bench', ip: '127.0.0.1' });

/** Re-creates the library's table through MikroORM's schema generator, as a user's migration would. */
export async function createLibraryTable(app: LibraryApp): Promise<void> {
  const orm = app.app.get(MikroORM);
  await orm.schema.dropSchema({ wrap: false });
  await orm.schema.createSchema({ wrap: false });
}

/**
 * Fills the library's table to `total` rows, `tokens` of them with real tokens
 * (returned), the rest valid fillers whose digests are hashes of the same shape.
 * Fillers are made by the server (generate_series): a million rows in seconds.
 */
export async function seedLibrary(
  pool: Pool,
  sessions: SessionsService,
  options: { total: number; tokens: number; log?: (line: string) => void },
): Promise<string[]> {
  await pool.query(`TRUNCATE "${BENCH_TABLE}"`);
  const tokens = Array.from({ length: options.tokens }, () => generateToken(sessions.options.tokenLength));
  await pool.query(
    `INSERT INTO "${BENCH_TABLE}" ("id", "auth_token_digest", "data", "expires_at", "inserted_at", "updated_at", "user_id")
     SELECT gen_random_uuid(), d, $2::jsonb, now() + interval '7 days', now(), now(), 'user-real-' || n
     FROM unnest($1::text[]) WITH ORDINALITY AS t(d, n)`,
    [tokens.map((token) => digest(token, sessions.options.hashAlgorithm)), DATA],
  );
  await insertFillers(pool, options.total - options.tokens, 'valid', options.log);
  await pool.query(`VACUUM ANALYZE "${BENCH_TABLE}"`);
  return tokens;
}

/** Adds `count` rows: valid fillers, or rows expired a day ago for pruning to delete. */
export async function insertFillers(
  pool: Pool,
  count: number,
  kind: 'valid' | 'expired',
  log?: (line: string) => void,
): Promise<void> {
  const expiry = kind === 'valid' ? `now() + interval '7 days'` : `now() - interval '1 day'`;
  const tag = `${kind}-${Date.now()}`; // distinct digests across calls
  for (let from = 1; from <= count; from += BATCH) {
    const to = Math.min(count, from + BATCH - 1);
    await pool.query(
      `INSERT INTO "${BENCH_TABLE}" ("id", "auth_token_digest", "data", "expires_at", "inserted_at", "updated_at", "user_id")
       SELECT gen_random_uuid(), encode(sha256(convert_to($3 || '-' || i, 'UTF8')), 'hex'), $4::jsonb,
              ${expiry}, now() - interval '8 days', now(), 'user-' || i
       FROM generate_series($1::int, $2::int) AS i`,
      [from, to, tag, DATA],
    );
    if (count > BATCH) log?.(`  seeded ${to.toLocaleString('en')} / ${count.toLocaleString('en')} ${kind} rows`);
  }
}

/** connect-pg-simple's own table.sql, renamed, so its store finds the schema it expects. */
export async function createExpressSessionTable(pool: Pool): Promise<void> {
  const sql = readFileSync(require.resolve('connect-pg-simple/table.sql'), 'utf8')
    .replace(/"session"/g, `"${EXPRESS_SESSION_TABLE}"`)
    .replace(/"session_pkey"/g, `"${EXPRESS_SESSION_TABLE}_pkey"`)
    .replace(/"IDX_session_expire"/g, `"IDX_${EXPRESS_SESSION_TABLE}_expire"`)
    .replace(/WITH \(OIDS=FALSE\)/g, ''); // a no-op since PostgreSQL 12
  await pool.query(`DROP TABLE IF EXISTS "${EXPRESS_SESSION_TABLE}"`);
  for (const statement of sql
    .split(';')
    .map((s) => s.trim())
    .filter(Boolean))
    await pool.query(statement);
}

/**
 * Fills connect-pg-simple's table to `total` rows like the library's: fillers
 * by generate_series, and `tokens` real sessions made through the app's login
 * route (so their cookies are signed and stored exactly as express-session does).
 * Returns the `Cookie` header values to replay.
 */
export async function seedExpressSession(
  pool: Pool,
  appUrl: string,
  options: { total: number; tokens: number; log?: (line: string) => void },
): Promise<string[]> {
  const cookies: string[] = [];
  const login = async (): Promise<void> => {
    const response = await fetch(`${appUrl}/login`, { method: 'POST' });
    const cookie = response.headers.getSetCookie().find((c) => c.startsWith('connect.sid='));
    if (!response.ok || !cookie) throw new Error(`express-session login failed: ${response.status}`);
    cookies.push(cookie.split(';')[0]);
  };
  for (let i = 0; i < options.tokens; i += 10) {
    await Promise.all(Array.from({ length: Math.min(10, options.tokens - i) }, login));
  }
  const fillers = options.total - options.tokens;
  for (let from = 1; from <= fillers; from += BATCH) {
    const to = Math.min(fillers, from + BATCH - 1);
    await pool.query(
      `INSERT INTO "${EXPRESS_SESSION_TABLE}" ("sid", "sess", "expire")
       SELECT md5('filler-' || i), json_build_object(
                'cookie', json_build_object('originalMaxAge', 604800000, 'expires', now() + interval '7 days',
                                            'httpOnly', true, 'path', '/', 'sameSite', 'lax'),
                'userId', 'user-' || i),
              now() + interval '7 days'
       FROM generate_series($1::int, $2::int) AS i`,
      [from, to],
    );
  }
  await pool.query(`VACUUM ANALYZE "${EXPRESS_SESSION_TABLE}"`);
  return cookies;
}
