import { MikroORM } from '@mikro-orm/core';
import { MikroOrmModule } from '@mikro-orm/nestjs';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import { Module, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Client } from 'pg';
import { EctoSessionsModule, getSessionsToken, type SessionsService } from '../lib';
import type { BenchSettings } from './settings';

/**
 * `npm run bench -- --revocation`: how long `delete()` takes on one of two
 * instances with the session cache on, in the cases where another database
 * role tries to interfere (issue 11 point 4) and through PgBouncer. Needs a
 * real PostgreSQL (DATABASE_URL); the pooler case needs PGBOUNCER_URL.
 */
const IMPOSTOR = 'ecto_sessions_impostor';
const CHANNEL = 'nestjs_ecto_sessions';
const DELETES = 40;
const TABLE = 'bench_revocations';

async function instance(
  clientUrl: string,
  listenUrl?: string,
): Promise<{ app: INestApplicationContext; sessions: SessionsService }> {
  @Module({
    imports: [
      MikroOrmModule.forRoot({ driver: PostgreSqlDriver, clientUrl, autoLoadEntities: true, pool: { min: 0, max: 5 } }),
      EctoSessionsModule.forRoot({ tableName: TABLE, cache: { ttl: '10m' }, ...(listenUrl ? { listenUrl } : {}) }),
    ],
  })
  class RevocationBenchModule {}
  const app = await NestFactory.createApplicationContext(RevocationBenchModule, { logger: ['error'] });
  return { app, sessions: app.get<SessionsService>(getSessionsToken(), { strict: false }) };
}

async function serving(sessions: SessionsService[], ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (sessions.every((s) => s.cacheStatus.serving)) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

/** Median and slowest `delete()` of sessions cached on the other instance, in ms. */
async function measure(a: SessionsService, b: SessionsService): Promise<{ median: number; max: number }> {
  const took: number[] = [];
  for (let i = 0; i < DELETES; i++) {
    const { session, token } = await a.create({ userId: 'bench' });
    await b.authenticate(token);
    const started = performance.now();
    await a.delete(session);
    took.push(performance.now() - started);
  }
  took.sort((x, y) => x - y);
  return { median: took[Math.floor(took.length / 2)], max: took[took.length - 1] };
}

export async function runRevocation(settings: BenchSettings, log: (line: string) => void = console.log) {
  const url = settings.databaseUrl;
  if (!url) throw new Error('--revocation needs a real PostgreSQL: set DATABASE_URL');
  const a = await instance(url);
  const b = await instance(url);
  const admin = new Client({ connectionString: url });
  await admin.connect();
  const impostorUrl = new URL(url);
  impostorUrl.username = IMPOSTOR;
  const rows: string[] = [];
  const report = (name: string, r: { median: number; max: number }, note = '') => {
    rows.push(`| ${name} | ${r.median.toFixed(1)} | ${r.max.toFixed(1)} | ${note} |`);
    log(`${name}: median ${r.median.toFixed(1)} ms, slowest ${r.max.toFixed(1)} ms ${note}`);
  };
  try {
    await a.app.get(MikroORM).schema.updateSchema();
    const listening = await serving([a.sessions, b.sessions], 5000);
    report('two instances listening', await measure(a.sessions, b.sessions), listening ? '' : '(caches not serving)');

    await admin.query(`DO $$ BEGIN CREATE ROLE ${IMPOSTOR} LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
    const impostor = new Client({ connectionString: impostorUrl.toString() });
    await impostor.connect();
    await impostor.query(`SET application_name = 'nestjs-ecto-sessions:"${TABLE}"'`);
    await impostor.query(`LISTEN ${CHANNEL}`);
    report('+ a listener impostor of another role', await measure(a.sessions, b.sessions));

    // The impostor now answers every revocation with a forged acknowledgement and floods "all".
    impostor.on('notification', (message) => {
      const parsed = JSON.parse(message.payload ?? '{}');
      if (parsed.nonce && !parsed.ack)
        void impostor.query('SELECT pg_notify($1, $2)', [
          CHANNEL,
          JSON.stringify({ table: `"${TABLE}"`, ack: parsed.nonce }),
        ]);
    });
    let flooding = true;
    const flood = (async () => {
      while (flooding)
        await impostor.query('SELECT pg_notify($1, $2)', [CHANNEL, JSON.stringify({ table: `"${TABLE}"`, all: true })]);
    })();
    report('+ forged acknowledgements and a flood of notices', await measure(a.sessions, b.sessions));
    flooding = false;
    await flood;
    await impostor.end();
  } finally {
    await admin.query(`DROP TABLE IF EXISTS ${TABLE}`).catch(() => undefined);
    await a.app.close();
    await b.app.close();
  }

  const pooler = process.env.PGBOUNCER_URL;
  if (pooler) {
    const through = `${pooler.replace(/\/$/, '')}${new URL(url).pathname}`;
    for (const listenUrl of [undefined, url]) {
      const pa = await instance(through, listenUrl);
      const pb = await instance(through, listenUrl);
      try {
        await pa.app.get(MikroORM).schema.updateSchema();
        await serving([pa.sessions, pb.sessions], listenUrl ? 5000 : 1500);
        report(
          `two instances through PgBouncer (transaction mode)${listenUrl ? ', listenUrl to the primary' : ''}`,
          await measure(pa.sessions, pb.sessions),
          `(cache serving: ${pa.sessions.cacheStatus.serving})`,
        );
      } finally {
        await admin.query(`DROP TABLE IF EXISTS ${TABLE}`).catch(() => undefined);
        await pa.app.close();
        await pb.app.close();
      }
    }
  } else log('PgBouncer case skipped: PGBOUNCER_URL is not set (.ci/pgbouncer.sh prints it)');
  await admin.query(`DROP ROLE IF EXISTS ${IMPOSTOR}`).catch(() => undefined);
  await admin.end();
  log(['', '| case | median ms | slowest ms | |', '|---|---:|---:|---|', ...rows].join('\n'));
}
