import { readFileSync, statSync } from 'node:fs';
import { MikroORM } from '@mikro-orm/core';
import { MikroOrmModule } from '@mikro-orm/nestjs';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import { type INestApplicationContext, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { EctoSessionsModule, getSessionsToken, type SessionsService } from '../lib';
import type { BenchSettings } from './settings';

/**
 * `npm run bench -- --replica`: lookups (`authenticate`) per second and their
 * p99 with reads on a streaming replica vs on the primary, in alternating
 * rounds of one run, and how many lookups the replica served vs the primary
 * (counted in the replica's own statement log). Needs DATABASE_URL (the
 * primary) and REPLICA_URL (`.ci/replica.sh`, which logs every statement to
 * REPLICA_LOG, by default /tmp/ecto-sessions-replica/replica.log).
 * In-process calls, 32 at a time: it measures the library and the databases,
 * not HTTP.
 */
const TABLE = 'bench_replica_sessions';
const TOKENS = 1000;
const CONCURRENCY = 32;

async function instance(url: string, replica: string, prefer: boolean) {
  @Module({
    imports: [
      MikroOrmModule.forRoot({
        driver: PostgreSqlDriver,
        clientUrl: url,
        replicas: [{ clientUrl: replica }],
        autoLoadEntities: true,
        pool: { min: 0, max: 10 },
      }),
      EctoSessionsModule.forRoot({ tableName: TABLE, preferReadReplicas: prefer, extendOnUse: false }),
    ],
  })
  class ReplicaBenchModule {}
  const app: INestApplicationContext = await NestFactory.createApplicationContext(ReplicaBenchModule, {
    logger: ['error'],
  });
  return { app, sessions: app.get<SessionsService>(getSessionsToken(), { strict: false }) };
}

/** Closed-loop lookups for `seconds`: how many per second, and the p99 in ms. */
async function round(sessions: SessionsService, tokens: string[], seconds: number) {
  const took: number[] = [];
  const until = performance.now() + seconds * 1000;
  let next = 0;
  const worker = async () => {
    while (performance.now() < until) {
      const token = tokens[next++ % tokens.length];
      const started = performance.now();
      if (!(await sessions.authenticate(token))) throw new Error('a seeded token was refused');
      took.push(performance.now() - started);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  took.sort((a, b) => a - b);
  return { perSecond: took.length / seconds, p99: took[Math.floor(took.length * 0.99)], count: took.length };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

export async function runReplica(settings: BenchSettings, log: (line: string) => void = console.log) {
  const url = settings.databaseUrl;
  const replicaBase = process.env.REPLICA_URL;
  if (!url || !replicaBase) throw new Error('--replica needs DATABASE_URL and REPLICA_URL (.ci/replica.sh)');
  const replica = `${replicaBase.replace(/\/$/, '')}${new URL(url).pathname}`;
  const replicaLog = process.env.REPLICA_LOG ?? '/tmp/ecto-sessions-replica/replica.log';
  const onReplica = await instance(url, replica, true);
  const onPrimary = await instance(url, replica, false);
  try {
    const orm = onReplica.app.get(MikroORM);
    await orm.schema.dropSchema({ wrap: false }).catch(() => undefined);
    await orm.schema.updateSchema({ wrap: false });
    const tokens: string[] = [];
    for (let i = 0; i < TOKENS; i++) tokens.push((await onReplica.sessions.create({ userId: `u${i % 50}` })).token);
    // Until the replica has them (it applies WAL 3 s late), so the replica can serve.
    const deadline = Date.now() + 30_000;
    while (onReplica.sessions.cacheStatus.listener !== 'listening' && Date.now() < deadline) await sleep(50);
    await sleep(4000);
    const rounds = Math.max(2, settings.rounds);
    type Round = { perSecond: number; p99: number };
    const results: { replica: Round[]; primary: Round[] } = { replica: [], primary: [] };
    const ratios: number[] = [];
    let served = 0;
    let lookups = 0;
    const database = new URL(url).pathname.slice(1);
    for (let i = 0; i < rounds; i++) {
      const from = statSync(replicaLog).size;
      const r = await round(onReplica.sessions, tokens, settings.duration);
      await sleep(200);
      served += readFileSync(replicaLog, 'utf8')
        .slice(from)
        .split('\n')
        .filter(
          (line) => line.includes(` ${database} `) && line.includes(TABLE) && /auth_token_digest/.test(line),
        ).length;
      lookups += r.count;
      const p = await round(onPrimary.sessions, tokens, settings.duration);
      results.replica.push(r);
      results.primary.push(p);
      ratios.push(r.perSecond / p.perSecond);
    }
    const table = [
      '| reads on | lookups/s (median) | p99 ms (median) |',
      '|---|---:|---:|',
      `| replica | ${median(results.replica.map((r) => r.perSecond)).toFixed(0)} | ${median(results.replica.map((r) => r.p99)).toFixed(2)} |`,
      `| primary | ${median(results.primary.map((r) => r.perSecond)).toFixed(0)} | ${median(results.primary.map((r) => r.p99)).toFixed(2)} |`,
    ];
    log(table.join('\n'));
    log(
      `replica/primary lookups per second, median of per-round ratios: ${median(ratios).toFixed(2)} (${rounds} rounds of ${settings.duration} s)`,
    );
    log(
      `lookups on the replica instance: ${lookups}; served by the replica: ${served}; by the primary (fell back): ${lookups - served}`,
    );
  } finally {
    await onReplica.app
      .get(MikroORM)
      .schema.dropSchema({ wrap: false })
      .catch(() => undefined);
    await onReplica.app.close();
    await onPrimary.app.close();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
