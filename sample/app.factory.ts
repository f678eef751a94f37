import { join } from 'node:path';
import type { LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { Express } from 'express';
import { MikroORM } from '@mikro-orm/core';
import { AppModule, type SampleOptions } from './app.module';
import { SAMPLE_DIR } from './paths';
import { registerViewHelpers } from './web/view-helpers';

/** Builds the sample (not yet listening) and brings its tables up to date. `main.ts` and the tests share it. */
export async function createSampleApp(
  options: SampleOptions & { logger?: false | LogLevel[] },
): Promise<NestExpressApplication> {
  const { logger, ...sample } = options;
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(sample), {
    logger: logger ?? ['log', 'warn', 'error'],
    abortOnError: false,
  });
  app.useStaticAssets(join(SAMPLE_DIR, 'public'), { prefix: '/assets/' });
  // The pages link /assets/favicon.svg; some browsers (Safari) and tools ask for /favicon.ico regardless.
  const favicon = join(SAMPLE_DIR, 'public', 'favicon.ico');
  const server: Express = app.getHttpAdapter().getInstance();
  server.get('/favicon.ico', (_req, res) => res.sendFile(favicon, { maxAge: '1d' }));
  app.setBaseViewsDir(join(SAMPLE_DIR, 'views'));
  app.setViewEngine('hbs');
  registerViewHelpers();
  // `safe`: add tables and columns, never drop any, since DATABASE_URL may
  // point at a database that holds other tables too.
  await app.get(MikroORM).schema.updateSchema({ safe: true });
  return app;
}
