import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { EctoSessionsOptions } from '../options/options.interface';

/**
 * `forRoot`/`forRootAsync` (`useFactory`, `useClass`, `useExisting`) from one
 * declaration; `EctoSessionsModule` adds the kind's providers on top.
 * A `useClass`/`useExisting` class implements `createSessionsOptions()`.
 */
export const {
  ConfigurableModuleClass: ConfigurableSessionsModule,
  MODULE_OPTIONS_TOKEN: RAW_OPTIONS_TOKEN,
  OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<EctoSessionsOptions>({ moduleName: 'EctoSessions' })
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createSessionsOptions')
  .build();

/** What a `useClass`/`useExisting` options factory implements. */
export interface EctoSessionsOptionsFactory {
  createSessionsOptions(): EctoSessionsOptions | Promise<EctoSessionsOptions>;
}
