import { type DynamicModule, type MiddlewareConsumer, Module, type NestModule } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { MikroOrmModule } from '@mikro-orm/nestjs';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import { type Duration, EctoSessionsModule } from 'nestjs-ecto-sessions';
import { AccountController } from './controllers/account.controller';
import { ApiKeysController } from './controllers/api-keys.controller';
import { ApiSessionsController } from './controllers/api-sessions.controller';
import { ApiController } from './controllers/api.controller';
import { HomeController } from './controllers/home.controller';
import { StatsController } from './controllers/stats.controller';
import { apiKeys, browserSessions } from './sessions.config';
import { User } from './users/user.entity';
import { UsersService } from './users/users.service';
import { csrfMiddleware } from './web/csrf.middleware';
import { flashMiddleware } from './web/flash';
import { noStoreMiddleware } from './web/no-store.middleware';
import { SignInService } from './web/sign-in.service';
import { SiteExceptionFilter } from './web/site-exception.filter';

export interface SampleOptions {
  databaseUrl: string;
  /** Keep one connection: embedded PGlite runs one statement at a time. @default false */
  singleConnection?: boolean;
  /** Seconds or a duration between prunes of expired sessions; `null` = off. @default '1m' */
  pruneInterval?: string | null;
  /** A browser's token older than this is replaced on its next page. @default ROTATE_EVERY ('15m') */
  rotateEvery?: Duration;
}

const PAGES = [HomeController, AccountController, ApiKeysController, StatsController];

@Module({})
export class AppModule implements NestModule {
  static forRoot(options: SampleOptions): DynamicModule {
    return {
      module: AppModule,
      imports: [
        MikroOrmModule.forRoot({
          driver: PostgreSqlDriver,
          clientUrl: options.databaseUrl,
          autoLoadEntities: true,
          pool: { min: 0, max: options.singleConnection ? 1 : 10 },
        }),
        MikroOrmModule.forFeature([User]),
        EctoSessionsModule.forRoot(
          browserSessions({
            pruneInterval: options.pruneInterval === undefined ? '1m' : options.pruneInterval,
            rotateEvery: options.rotateEvery,
          }),
        ),
        EctoSessionsModule.forRoot(apiKeys),
      ],
      controllers: [...PAGES, ApiController, ApiSessionsController],
      // Unknown URLs and other errors outside the pages: an HTML error page (JSON under /api).
      providers: [UsersService, SignInService, { provide: APP_FILTER, useClass: SiteExceptionFilter }],
    };
  }

  /** The HTML pages get no caching, CSRF checks and flash messages; the JSON API has no forms. */
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(noStoreMiddleware, csrfMiddleware, flashMiddleware).forRoutes(...PAGES);
  }
}
