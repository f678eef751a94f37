import { type DynamicModule, Module } from '@nestjs/common';
import { MikroOrmModule } from '@mikro-orm/nestjs';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import { EctoSessionsModule, type EctoSessionsOptions } from 'nestjs-ecto-sessions';
import { AuthController } from './auth.controller.js';
import { APP_CONFIG, type AppConfig, AppConfigModule } from './config.js';
import { ProbeController } from './probe.controller.js';

export type Mode = 'forRoot' | 'forRootAsync';
/** Apps that must not start, to check that the failure is clear. */
export type Scenario = 'ok' | 'no-orm' | 'bad-options';

/** The API-key kind's table shape, known up front (forRootAsync takes it beside the factory). */
const API_KEY_SHAPE = {
  name: 'apiKeys',
  tableName: 'api_keys',
  columns: { userId: { type: 'string', index: true }, label: { type: 'string' } },
} satisfies EctoSessionsOptions;

const API_KEY_OPTIONS: EctoSessionsOptions = {
  ttl: null,
  tokenFrom: [{ type: 'header', name: 'x-api-key' }],
  cache: true,
};

/** A kind with every security feature (DESIGN §6); the features that add columns are table shape. */
const SECURE_SHAPE = {
  name: 'secure',
  tableName: 'secure_sessions',
  rotation: { grace: '1m', every: '1s' },
  scopes: true,
  trackLastUsed: '1m',
} satisfies EctoSessionsOptions;

const SECURE_OPTIONS: EctoSessionsOptions = {
  ttl: '1h',
  maxPerUser: { max: 2 },
  tokenFrom: [
    { type: 'header', name: 'x-secure-token' },
    { type: 'cookie', name: 'secure_token' },
  ],
  cookie: { name: 'secure_token', secure: false },
};

function sessionModules(mode: Mode): DynamicModule[] {
  if (mode === 'forRoot') {
    return [
      EctoSessionsModule.forRoot({ ttl: '7d' }),
      EctoSessionsModule.forRoot({ ...API_KEY_SHAPE, ...API_KEY_OPTIONS, tokenPrefix: 'sk_test_' }),
      EctoSessionsModule.forRoot({ ...SECURE_SHAPE, ...SECURE_OPTIONS }),
    ];
  }
  return [
    EctoSessionsModule.forRootAsync({
      imports: [AppConfigModule],
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => ({ ttl: config.sessionTtl }),
    }),
    EctoSessionsModule.forRootAsync({
      ...API_KEY_SHAPE,
      imports: [AppConfigModule],
      inject: [APP_CONFIG],
      useFactory: async (config: AppConfig) => ({ ...API_KEY_OPTIONS, tokenPrefix: config.apiKeyPrefix }),
    }),
    EctoSessionsModule.forRootAsync({ ...SECURE_SHAPE, useFactory: () => SECURE_OPTIONS }),
  ];
}

@Module({})
export class AppModule {
  static register(mode: Mode, scenario: Scenario = 'ok'): DynamicModule {
    const orm =
      scenario === 'no-orm'
        ? []
        : [
            MikroOrmModule.forRoot({
              driver: PostgreSqlDriver,
              clientUrl: process.env.DATABASE_URL,
              autoLoadEntities: true,
            }),
          ];
    const sessions =
      scenario === 'bad-options' ? [EctoSessionsModule.forRoot({ tokenLength: 8 })] : sessionModules(mode);
    return {
      module: AppModule,
      imports: [...orm, ...sessions],
      controllers: scenario === 'ok' ? [AuthController, ProbeController] : [],
    };
  }
}
