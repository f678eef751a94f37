import type { MikroORM } from '@mikro-orm/core';
import { type KnexPool, type Leasable, TurnLease } from './turn-lease';

type Row = Record<string, unknown>;

interface PooledClient extends Leasable {
  /** pg's `Client#query` with a callback (then it makes no promise of its own). */
  query(text: string, values: unknown[], callback: (error: Error | null, result: { rows: Row[] }) => void): void;
  /** Without values: the simple protocol, which takes several statements in one round trip. */
  query(text: string, callback: (error: Error | null, result: { rows: Row[] } | Array<{ rows: Row[] }>) => void): void;
}

interface QueryLogger {
  isEnabled?(namespace: string): boolean;
  logQuery(context: { query: string; took: number; results?: number; level?: 'info' | 'error' }): void;
}

/**
 * The guard's lookup without the layers between it and the wire: a connection
 * of the ORM's own pool (same settings, same limits), used directly. Measured
 * on the benchmark, knex's runner and the ORM's wrappers around one statement
 * cost about a tenth of an authenticated request; a connection serves every
 * statement of an event-loop turn (`TurnLease`). The statement is still
 * reported to the ORM's query logger, so `debug: ['query']` shows it.
 *
 * Only where the ORM pools through knex (MikroORM 6 on PostgreSQL); elsewhere
 * `DirectQuery.of` gives `undefined` and the ORM's `execute` is used.
 */
export class DirectQuery {
  private readonly numbered = new Map<string, string>();
  private readonly lease: TurnLease<PooledClient>;

  private constructor(
    pool: KnexPool<PooledClient>,
    private readonly logger: QueryLogger | undefined,
  ) {
    this.lease = TurnLease.of(pool);
  }

  /** For the ORM's primary connection, or another of its connections (a replica's). */
  static of(orm: MikroORM, of: unknown = orm.em.getConnection()): DirectQuery | undefined {
    try {
      const connection = of as { getKnex?(): { client?: Partial<KnexPool<PooledClient>> } };
      const pool = connection.getKnex?.()?.client;
      if (typeof pool?.acquireConnection !== 'function' || typeof pool.releaseConnection !== 'function')
        return undefined;
      if (orm.config.get('driver')?.name !== 'PostgreSqlDriver') return undefined;
      const logger = orm.config.getLogger() as unknown as QueryLogger;
      return new DirectQuery(pool as KnexPool<PooledClient>, logger);
    } catch {
      return undefined;
    }
  }

  /**
   * Runs one statement with `?` placeholders and gives its rows. One promise of
   * its own, pg called with a callback, the release not awaited: every promise
   * on this path costs, more so under the async hooks of the ORM's request context.
   */
  rows(sql: string, params: unknown[]): Promise<Row[]> {
    const text = this.toNumbered(sql);
    const started = Date.now();
    return new Promise<Row[]>((resolve, reject) => {
      this.lease.take((connection) => {
        const done = (error: Error | null, result?: { rows: Row[] }) => {
          this.lease.giveBack(connection, !!error);
          this.log(text, started, result?.rows.length, error ? 'error' : undefined);
          if (error) reject(error);
          else resolve(result!.rows);
        };
        try {
          connection.query(text, params, done);
        } catch (error) {
          done(error as Error); // a client that cannot take a query: the lookup fails, never hangs
        }
      }, reject);
    });
  }

  /**
   * Several statements in one round trip (the simple protocol: no parameters,
   * so `text` holds only literals the caller made safe); the rows of each.
   */
  batch(text: string): Promise<Row[][]> {
    const started = Date.now();
    return new Promise<Row[][]>((resolve, reject) => {
      this.lease.take((connection) => {
        try {
          connection.query(text, (error, result) => {
            this.lease.giveBack(connection, !!error);
            this.log(text, started, undefined, error ? 'error' : undefined);
            if (error) reject(error);
            else resolve((Array.isArray(result) ? result : [result]).map((r) => r.rows));
          });
        } catch (error) {
          this.lease.giveBack(connection, true);
          reject(error as Error);
        }
      }, reject);
    });
  }

  /**
   * `first` (no parameters), then one statement with `?` parameters, on the same
   * connection: what the first reads (a replica's replay position) comes before
   * the second's snapshot. The rows of each.
   */
  sequence(first: string, sql: string, params: unknown[]): Promise<[Row[], Row[]]> {
    const text = this.toNumbered(sql);
    return new Promise<[Row[], Row[]]>((resolve, reject) => {
      this.lease.take((connection) => {
        const fail = (error: Error) => {
          this.lease.giveBack(connection, true);
          reject(error);
        };
        try {
          connection.query(first, [], (error, head) => {
            if (error) return fail(error);
            connection.query(text, params, (error2, result) => {
              if (error2) return fail(error2);
              this.lease.giveBack(connection, false);
              resolve([head.rows, result.rows]);
            });
          });
        } catch (error) {
          fail(error as Error);
        }
      }, reject);
    });
  }

  /** Never throws: it runs inside pg's socket callback, where a throw would be uncaught. */
  private log(query: string, started: number, results?: number, level?: 'error'): void {
    try {
      if (this.logger?.isEnabled && !this.logger.isEnabled('query')) return;
      this.logger?.logQuery({ query, took: Date.now() - started, results, ...(level ? { level } : {}) });
    } catch {
      // a failing query logger must not fail (or crash) the lookup
    }
  }

  /** `?` → `$1`, `$2`… as PostgreSQL takes them; the hot statements are few, so each is converted once. */
  private toNumbered(sql: string): string {
    let text = this.numbered.get(sql);
    if (text === undefined) {
      let n = 0;
      text = sql.replace(/\?/g, () => `$${++n}`);
      if (this.numbered.size < 64) this.numbered.set(sql, text);
    }
    return text;
  }
}
