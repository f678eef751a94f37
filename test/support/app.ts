import type { INestApplication, LoggerService, Type } from '@nestjs/common';
import { MikroORM } from '@mikro-orm/core';
import { MikroOrmModule, type MikroOrmModuleSyncOptions } from '@mikro-orm/nestjs';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { EctoSessionsModule, type EctoSessionsOptions, getSessionsToken, SessionsService } from '../../lib';
import { ormOptions, QueryLog, recreateTables } from './database';

export type Adapter = 'express' | 'fastify';

export interface TestApp {
  app: INestApplication;
  orm: MikroORM;
  log: QueryLog;
  sessions(name?: string): SessionsService;
  url: string;
  close(): Promise<void>;
}

export interface TestAppOptions {
  kinds?: EctoSessionsOptions[];
  controllers?: Type[];
  providers?: any[];
  imports?: any[];
  adapter?: Adapter;
  /** Listen on a port (for HTTP tests). @default false */
  listen?: boolean;
  /** Drop and re-create the tables. @default true */
  recreate?: boolean;
  /** Where Nest's logs go. @default none */
  logger?: LoggerService;
  /** Runs before `app.init()`: register Express middleware or Fastify plugins here. */
  configure?(app: INestApplication): unknown;
  /** MikroORM options over the test database's (e.g. another `clientUrl`). */
  orm?: Partial<MikroOrmModuleSyncOptions>;
}

/** Boots a Nest app with MikroORM on the test database and the given session kinds. */
export async function createTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const log = new QueryLog();
  const kinds = options.kinds ?? [{}];
  const moduleRef = await Test.createTestingModule({
    imports: [
      MikroOrmModule.forRoot({
        ...ormOptions(log),
        autoLoadEntities: true,
        ...options.orm,
      } as MikroOrmModuleSyncOptions),
      ...kinds.map((kind) => EctoSessionsModule.forRoot(kind)),
      ...(options.imports ?? []),
    ],
    controllers: options.controllers ?? [],
    providers: options.providers ?? [],
  }).compile();
  const app =
    options.adapter === 'fastify'
      ? moduleRef.createNestApplication(new FastifyAdapter(), { logger: options.logger ?? false })
      : moduleRef.createNestApplication({ logger: options.logger ?? false });
  await options.configure?.(app);
  await app.init();
  if (options.adapter === 'fastify') await (app.getHttpAdapter().getInstance() as { ready(): Promise<void> }).ready();
  const orm = app.get(MikroORM);
  if (options.recreate !== false) await recreateTables(orm);
  let url = '';
  if (options.listen) {
    await app.listen(0, '127.0.0.1');
    url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  }
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
