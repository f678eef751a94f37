import { Controller, Get, type INestApplication, Module, Post, Req, UnauthorizedException } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import connectPgSimple from 'connect-pg-simple';
import type { Request } from 'express';
import session from 'express-session';
import { Pool } from 'pg';

/** connect-pg-simple's table, beside the library's in the same database. */
export const EXPRESS_SESSION_TABLE = 'bench_express_sessions';
export const EXPRESS_SESSION_SECRET = 'bench-secret-not-for-production';

declare module 'express-session' {
  interface SessionData {
    userId: string;
  }
}

@Controller()
class ExpressSessionController {
  /** Creates a session the way an app's login does; the harness replays its cookie. */
  @Post('login')
  login(@Req() request: Request): { ok: true } {
    request.session.userId = `user-login-${Math.random().toString(36).slice(2)}`;
    return { ok: true };
  }

  @Get('express-session')
  me(@Req() request: Request): { userId: string | null } {
    if (!request.session.userId) throw new UnauthorizedException();
    return { userId: request.session.userId };
  }
}

@Module({ controllers: [ExpressSessionController] })
class ExpressSessionBenchModule {}

export interface ExpressSessionApp {
  app: INestApplication;
  url: string;
  close(): Promise<void>;
}

/**
 * What a NestJS user would pick instead: express-session with connect-pg-simple,
 * configured as the NestJS docs and connect-pg-simple's README show (resave and
 * saveUninitialized off). Left at its defaults, the store touches the row on
 * every request, so each request costs a SELECT and an UPDATE; that is the
 * comparison a user would face. Its pruning timer is off, like the library's.
 */
export async function startExpressSessionApp(options: {
  databaseUrl: string;
  poolSize: number;
}): Promise<ExpressSessionApp> {
  const app = await NestFactory.create(ExpressSessionBenchModule, { logger: ['error', 'warn'] });
  const pool = mountExpressSession(app, options);
  await app.listen(0, '127.0.0.1');
  return {
    app,
    url: (await app.getUrl()).replace('[::1]', '127.0.0.1'),
    async close() {
      await app.close();
      await pool.end();
    },
  };
}

/**
 * Mounts express-session app-wide with its connect-pg-simple store, configured
 * as above: the express-session app's, and the mixed library app's (where
 * requests without its cookie still go through it, as in a real app). Returns
 * the store's pool, for the caller to end after the app.
 */
export function mountExpressSession(app: INestApplication, options: { databaseUrl: string; poolSize: number }): Pool {
  const pool = new Pool({ connectionString: options.databaseUrl, max: options.poolSize });
  const PgStore = connectPgSimple(session);
  app.use(
    session({
      store: new PgStore({ pool, tableName: EXPRESS_SESSION_TABLE, pruneSessionInterval: false }),
      secret: EXPRESS_SESSION_SECRET,
      resave: false,
      saveUninitialized: false,
      cookie: { maxAge: 7 * 24 * 3600 * 1000, httpOnly: true, sameSite: 'lax' },
    }),
  );
  return pool;
}
