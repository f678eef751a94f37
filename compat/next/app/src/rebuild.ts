import 'reflect-metadata';
import { MikroORM } from '@mikro-orm/core';
import { MikroOrmModule } from '@mikro-orm/nestjs';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import { type DynamicModule, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { EctoSessionsModule, type EctoSessionsOptions, SessionsService } from 'nestjs-ecto-sessions';
import { allMetadata, recreateSchema } from './orm-versions.js';

@Module({})
class RebuiltModule {}

function appModule(columns: EctoSessionsOptions['columns']): DynamicModule {
  return {
    module: RebuiltModule,
    imports: [
      MikroOrmModule.forRoot({ driver: PostgreSqlDriver, clientUrl: process.env.DATABASE_URL, autoLoadEntities: true }),
      EctoSessionsModule.forRoot({ columns }),
    ],
  };
}

async function start(module: DynamicModule) {
  const app = await NestFactory.createApplicationContext(module, { logger: ['error', 'warn'], abortOnError: false });
  const orm = app.get(MikroORM);
  await recreateSchema(orm);
  const sessions = app.get(SessionsService);
  const { token } = await sessions.create({ userId: 'rebuild' });
  const session = await sessions.authenticate(token);
  const meta = allMetadata(orm).filter((m: any) => m.tableName === 'sessions');
  return {
    app,
    summary: `${meta.length}:${Object.keys(meta[0]?.properties ?? {}).join(',')}:${session ? 'ok' : 'none'}`,
  };
}

/**
 * Builds the same kind twice in one process with another table shape, the
 * second declared while the first app still runs, as a test suite does: the
 * first shape must be forgotten, not registered twice ("Duplicate table names").
 */
async function main(): Promise<void> {
  const first = await start(appModule({ userId: { type: 'string', index: true } }));
  console.log(`FIRST ${first.summary}`);
  const secondModule = appModule({ userId: { type: 'string', index: true }, tenant: { type: 'string' } });
  await first.app.close();
  const second = await start(secondModule);
  console.log(`SECOND ${second.summary}`);
  await second.app.close();
}

main().catch((error: unknown) => {
  console.error(`REBUILD FAILED: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
