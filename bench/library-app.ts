import { MikroOrmModule } from '@mikro-orm/nestjs';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import {
  type CanActivate,
  Controller,
  createParamDecorator,
  type DynamicModule,
  Get,
  Headers,
  Inject,
  type INestApplication,
  Module,
  UnauthorizedException,
  UseGuards,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import cookieParser from 'cookie-parser';
import { Pool } from 'pg';
import { Authenticated, CurrentSession, digest, EctoSessionsModule, type Session, SessionsService } from '../lib';
import { EXPRESS_SESSION_SECRET, mountExpressSession } from './express-session-app';

/** The table both library apps share; not `sessions`, so a run on a test database leaves the tests' table alone. */
export const BENCH_TABLE = 'bench_sessions';

const FLOOR_POOL = Symbol('bench:floor-pool');

/**
 * The floor: what any implementation must do at the least (read the header,
 * hash the token, one lookup on the unique index, selecting what the library
 * selects), written by hand on a plain `pg.Pool`.
 */
const FLOOR_SQL =
  `SELECT "id", "auth_token_digest", "data", "expires_at", "inserted_at", "updated_at", "user_id" FROM "${BENCH_TABLE}" ` +
  `WHERE "auth_token_digest" = $1 AND ("expires_at" IS NULL OR "expires_at" > $2) LIMIT 1`;

/**
 * The `nest-guard` route's guard and parameter: no work of their own, so the
 * route measures what Nest itself charges a route for a guard and a custom
 * parameter (its guard and parameter pipelines, their promises), which the
 * cached route pays too.
 */
class AllowGuard implements CanActivate {
  canActivate(): boolean {
    return true;
  }
}
const NO_SESSION = { userId: null };
const ConstantSession = createParamDecorator(() => NO_SESSION);

@Controller()
class LibraryBenchController {
  constructor(@Inject(FLOOR_POOL) private readonly pool: Pool) {}

  @Get('public')
  public(): { userId: string | null } {
    return { userId: null };
  }

  @Get('floor')
  async floor(@Headers('x-auth-token') token?: string): Promise<{ userId: string | null }> {
    if (!token) throw new UnauthorizedException();
    const { rows } = await this.pool.query(FLOOR_SQL, [digest(token), new Date().toISOString()]);
    if (rows.length === 0) throw new UnauthorizedException();
    return { userId: rows[0].user_id };
  }

  @UseGuards(AllowGuard)
  @Get('nest-guard')
  nestGuard(@ConstantSession() session: { userId: string | null }): { userId: string | null } {
    return { userId: session.userId };
  }

  @Authenticated()
  @Get('authenticated')
  authenticated(@CurrentSession() session: Session): { userId: string | null } {
    return { userId: session.userId as string | null };
  }
}

export interface LibraryAppOptions {
  databaseUrl: string;
  poolSize: number;
  /** The `cache` option of the kind; undefined = off. */
  cache?: { ttl: string; max: number };
  /**
   * The mixed app: cookie-parser and express-session (connect-pg-simple store)
   * mounted app-wide before every route, as in an app migrating off
   * express-session; the floor and public routes go through them too.
   */
  mixed?: boolean;
}

@Module({})
class LibraryBenchModule {
  /** The app a user of the library writes: MikroORM through @mikro-orm/nestjs, one kind, a guarded route. */
  static register(options: LibraryAppOptions): DynamicModule {
    return {
      module: LibraryBenchModule,
      imports: [
        MikroOrmModule.forRoot({
          driver: PostgreSqlDriver,
          clientUrl: options.databaseUrl,
          autoLoadEntities: true,
          pool: { min: 0, max: options.poolSize },
          discovery: { warnWhenNoEntities: false },
        }),
        EctoSessionsModule.forRoot({
          ttl: '7d',
          extendOnUse: true,
          extendThreshold: '1d',
          tableName: BENCH_TABLE,
          ...(options.cache ? { cache: options.cache } : {}),
        }),
      ],
      controllers: [LibraryBenchController],
      providers: [
        {
          provide: FLOOR_POOL,
          useFactory: () => new Pool({ connectionString: options.databaseUrl, max: options.poolSize }),
        },
      ],
    };
  }
}

export interface LibraryApp {
  app: INestApplication;
  url: string;
  sessions: SessionsService;
  close(): Promise<void>;
}

/** Boots the library's app (plain or mixed) on a free port of 127.0.0.1. */
export async function startLibraryApp(options: LibraryAppOptions): Promise<LibraryApp> {
  const app = await NestFactory.create(LibraryBenchModule.register(options), { logger: ['error', 'warn'] });
  let storePool: Pool | undefined;
  if (options.mixed) {
    app.use(cookieParser(EXPRESS_SESSION_SECRET));
    storePool = mountExpressSession(app, options);
  }
  await app.listen(0, '127.0.0.1');
  const pool = app.get<Pool>(FLOOR_POOL);
  return {
    app,
    url: (await app.getUrl()).replace('[::1]', '127.0.0.1'),
    sessions: app.get(SessionsService),
    async close() {
      await app.close();
      await pool.end();
      await storePool?.end();
    },
  };
}
