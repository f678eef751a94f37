import { type DynamicModule, Module, type Provider } from '@nestjs/common';
import { MikroORM } from '@mikro-orm/core';
import { ModuleRef } from '@nestjs/core';
import { registerEntity } from '../orm/entities-storage';
import { assertInstalledOrmSupported } from '../orm/orm-compat';
import type { EctoSessionsOptions, ResolvedSessionsOptions } from '../options/options.interface';
import { sessionEntity } from '../store/session.entity';
import { DEFAULT_KIND } from '../constants';
import { EctoSessionsCoreModule } from './core.module';
import { ASYNC_OPTIONS_TYPE, ConfigurableSessionsModule, RAW_OPTIONS_TOKEN } from './module-definition';
import { SessionsOptionsError } from '../errors';
import { resolveSessionsOptions } from '../options/resolve-options';
import { SessionsService } from '../service/sessions.service';
import { getSessionsOptionsToken, getSessionsToken } from './injection-tokens';

/**
 * Options that shape the table (the features add columns): MikroORM needs the
 * entity before any factory runs.
 */
const SHAPE_OPTIONS = ['tableName', 'schema', 'columns', 'entityName', 'rotation', 'scopes', 'trackLastUsed'] as const;
type ShapeOptions = Pick<EctoSessionsOptions, (typeof SHAPE_OPTIONS)[number]>;

/** `forRootAsync` options: the factory, plus the kind's `name` and table shape, which must be known up front. */
export type EctoSessionsAsyncOptions = typeof ASYNC_OPTIONS_TYPE & { name?: string } & ShapeOptions;

/**
 * Database-backed sessions. Each `forRoot`/`forRootAsync` call registers one
 * kind (a kind of session: browser sessions, API keys…, each with its own
 * table): its entity and its `SessionsService`; the guard they share comes once,
 * from `EctoSessionsCoreModule`. Global, because the guard runs inside the
 * consumer's modules.
 */
@Module({})
export class EctoSessionsModule extends ConfigurableSessionsModule {
  /**
   * @example
   * EctoSessionsModule.forRoot({ ttl: '7d', extendOnUse: true })
   * EctoSessionsModule.forRoot({ name: 'apiKeys', ttl: null })
   */
  static forRoot(options: EctoSessionsOptions = {}): DynamicModule {
    const resolved = resolveSessionsOptions(options); // fails at start-up, naming the option
    return this.withKind(super.forRoot(options), resolved, () => resolved);
  }

  /**
   * @example
   * EctoSessionsModule.forRootAsync({
   *   imports: [ConfigModule],
   *   inject: [ConfigService],
   *   useFactory: (config: ConfigService) => ({ ttl: config.get('SESSION_TTL'), secret: config.get('SESSION_SECRET') }),
   * })
   */
  static forRootAsync(options: EctoSessionsAsyncOptions): DynamicModule {
    // The name and the table shape, given beside the factory; the rest is the factory's.
    const { name = DEFAULT_KIND, ...rest } = options;
    const shape: ShapeOptions & { name: string } = { name };
    const async: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(rest)) {
      if (!(SHAPE_OPTIONS as readonly string[]).includes(key)) async[key] = value;
      else if (value !== undefined) (shape as Record<string, unknown>)[key] = value;
    }
    const staticOptions = resolveSessionsOptions(shape);
    return this.withKind(
      super.forRootAsync(async as typeof ASYNC_OPTIONS_TYPE),
      staticOptions,
      (raw: EctoSessionsOptions) => {
        for (const key of ['name', ...SHAPE_OPTIONS] as const) {
          if (raw?.[key] !== undefined && JSON.stringify(raw[key]) !== JSON.stringify(shape[key])) {
            throw new SessionsOptionsError(
              name,
              key,
              'must be given beside useFactory/useClass/useExisting in forRootAsync, not returned by it: ' +
                'the entity is registered before the factory runs',
            );
          }
        }
        return resolveSessionsOptions({ ...raw, ...shape });
      },
    );
  }

  private static withKind(
    base: DynamicModule,
    shapeFrom: ResolvedSessionsOptions,
    resolve: (raw: EctoSessionsOptions) => ResolvedSessionsOptions,
  ): DynamicModule {
    const { name } = shapeFrom;
    assertInstalledOrmSupported(); // an unsupported or mixed MikroORM install fails here, naming the supported versions
    registerEntity(sessionEntity(shapeFrom));
    const optionsToken = getSessionsOptionsToken(name);
    const serviceToken = getSessionsToken(name);
    const providers: Provider[] = [
      { provide: optionsToken, useFactory: resolve, inject: [RAW_OPTIONS_TOKEN] },
      {
        provide: serviceToken,
        useFactory: (resolved: ResolvedSessionsOptions, moduleRef: ModuleRef, orm?: MikroORM) => {
          const instance = resolved.orm ?? orm;
          if (!instance) {
            throw new SessionsOptionsError(
              name,
              'orm',
              'is missing: import MikroOrmModule.forRoot(...) from @mikro-orm/nestjs, or pass a MikroORM instance as `orm`',
            );
          }
          return new SessionsService(resolved, instance, moduleRef);
        },
        inject: [optionsToken, ModuleRef, { token: MikroORM, optional: true }],
      },
    ];
    return {
      ...base,
      global: true,
      imports: [...(base.imports ?? []), EctoSessionsCoreModule],
      providers: [...(base.providers ?? []), ...providers],
      exports: [...(base.exports ?? []), optionsToken, serviceToken, EctoSessionsCoreModule],
    };
  }
}
