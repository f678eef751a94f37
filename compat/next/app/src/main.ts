import 'reflect-metadata';
import { MikroORM } from '@mikro-orm/core';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { AppModule, type Mode, type Scenario } from './app.module.js';
import { recreateSchema } from './orm-versions.js';

/**
 * Starts the consumer app: ADAPTER=express|fastify, MODE=forRoot|forRootAsync,
 * SCENARIO=ok|no-orm|bad-options, DATABASE_URL, RESET_SCHEMA=1 to re-create the
 * tables. Prints `LISTENING <url>` once it serves.
 */
async function main(): Promise<void> {
  const mode = (process.env.MODE ?? 'forRoot') as Mode;
  const module = AppModule.register(mode, (process.env.SCENARIO ?? 'ok') as Scenario);
  const options = { logger: ['error', 'warn'] as const, abortOnError: false };
  const app =
    process.env.ADAPTER === 'fastify'
      ? await NestFactory.create(module, new FastifyAdapter(), { ...options, logger: [...options.logger] })
      : await NestFactory.create(module, { ...options, logger: [...options.logger] });
  app.enableShutdownHooks();
  if (process.env.RESET_SCHEMA === '1') await recreateSchema(app.get(MikroORM));
  await app.listen(Number(process.env.PORT ?? 0), '127.0.0.1');
  console.log(`LISTENING ${(await app.getUrl()).replace('[::1]', '127.0.0.1')}`);
}

main().catch((error: unknown) => {
  console.error(`STARTUP FAILED: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
