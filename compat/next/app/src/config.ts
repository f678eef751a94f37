import { Module } from '@nestjs/common';

/** What `forRootAsync`'s factories read, as a `ConfigService` would give it. */
export interface AppConfig {
  sessionTtl: string;
  apiKeyPrefix: string;
}

export const APP_CONFIG = 'APP_CONFIG';

@Module({
  providers: [
    {
      provide: APP_CONFIG,
      useFactory: async (): Promise<AppConfig> => ({ sessionTtl: '2h', apiKeyPrefix: 'sk_async_' }),
    },
  ],
  exports: [APP_CONFIG],
})
export class AppConfigModule {}
