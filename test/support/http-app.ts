import type { INestApplication } from '@nestjs/common';
import { MikroORM } from '@mikro-orm/core';
import { MikroOrmModule, type MikroOrmModuleSyncOptions } from '@mikro-orm/nestjs';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { EctoSessionsModule, getSessionsToken, type SessionsService } from '../../lib';
import type { TestApp, TestAppOptions } from './app';
import { ormOptions, QueryLog, recreateTables } from './database';

export interface HttpTestAppOptions extends TestAppOptions {
  /** Runs before `app.init()`: register Express middleware or Fastify plugins here. */
  configure?(app: INestApplication): unknown;
  /** MikroORM options over the test database's (e.g. another `clientUrl`). */
  orm?: Partial<MikroOrmModuleSyncOptions>;
}

/**
 * Like `createTestApp`, always listening, with a hook before `init()` (which
 * `createTestApp` calls before a test could register a Fastify plugin) and
 * MikroORM options of its own.
 */
export async function createHttpTestApp(options: HttpTestAppOptions = {}): Promise<TestApp> {
  const log = new QueryLog();
  const moduleRef = await Test.createTestingModule({
    imports: [
      MikroOrmModule.forRoot({
        ...ormOptions(log),
        autoLoadEntities: true,
        ...options.orm,
      } as MikroOrmModuleSyncOptions),
      ...(options.kinds ?? [{}]).map((kind) => EctoSessionsModule.forRoot(kind)),
      ...(options.imports ?? []),
    ],
    controllers: options.controllers ?? [],
    providers: options.providers ?? [],
  }).compile();
  const app =
    options.adapter === 'fastify'
      ? moduleRef.createNestApplication(new FastifyAdapter(), { logger: false })
      : moduleRef.createNestApplication({ logger: false });
  await options.configure?.(app);
  await app.init();
  const orm = app.get(MikroORM);
  if (options.recreate !== false) await recreateTables(orm);
  await app.listen(0, '127.0.0.1');
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  log.clear();
  return {
    app,
    orm,
    log,
    url,
    sessions: (name?: string) => app.get<SessionsService>(getSessionsToken(name), { strict: false }),
    close: () => app.close(),
  };
}
