import type { ResolvedSessionsOptions } from '../options/options.interface';
import { type Column, columnsOf } from './columns';
import { Session } from './session.entity';
import { fromEpochSeconds } from './timestamps';

/**
 * Turns a kind's rows into sessions: plain `Session` objects, not the kind's
 * entity class, whose prototype MikroORM fills with change-tracking setters
 * (each assignment there would build an entity helper, for nothing).
 */
export class SessionRows {
  private readonly columns: Column[];
  private readonly absoluteTtlMs: number | null;

  constructor(
    options: Pick<ResolvedSessionsOptions, 'columns' | 'absoluteTtl' | 'rotation' | 'scopes' | 'trackLastUsed'>,
  ) {
    this.columns = columnsOf(options.columns, options).filter((column) => !column.writeOnly);
    this.absoluteTtlMs = options.absoluteTtl === null ? null : options.absoluteTtl * 1000;
  }

  toSession(row: Record<string, unknown>): Session {
    const session = new Session();
    for (const column of this.columns) {
      const value = row[column.field];
      if (column.property === 'authTokenDigest') session.authTokenDigest = value as string;
      else session[column.property] = column.type === 'datetime' ? fromEpochSeconds(value) : value;
    }
    // A session is never valid past `insertedAt + absoluteTtl`: its expiry says so, and `isExpired` with it.
    if (this.absoluteTtlMs !== null) {
      const absolute = session.insertedAt.getTime() + this.absoluteTtlMs;
      if (session.expiresAt === null || session.expiresAt.getTime() > absolute) session.expiresAt = new Date(absolute);
    }
    return session;
  }
}
