import type { MikroORM } from '@mikro-orm/core';

type Row = Record<string, unknown>;

interface PooledClient {
  query(text: string, values: unknown[]): Promise<{ rows: Row[] }>;
}

interface PoolClient {
  acquireConnection(): Promise<PooledClient>;
  releaseConnection(connection: PooledClient): Promise<unknown>;
}

interface QueryLogger {
  isEnabled?(namespace: string): boolean;
  logQuery(context: { query: string; took: number; results?: number; level?: 'info' | 'error' }): void;
}

/**
 * The guard's lookup without the layers between it and the wire: a connection
 * of the ORM's own pool (same settings, same limits), used directly. Measured
 * on the benchmark, knex's runner and the ORM's wrappers around one statement
 * cost about a tenth of an authenticated request. The statement is still
 * reported to the ORM's query logger, so `debug: ['query']` shows it.
 *
 * Only where the ORM pools through knex (MikroORM 6 on PostgreSQL); elsewhere
 * `DirectQuery.of` gives `undefined` and the ORM's `execute` is used.
 */
export class DirectQuery {
  private readonly numbered = new Map<string, string>();

  private constructor(
    private readonly pool: PoolClient,
    private readonly logger: QueryLogger | undefined,
  ) {}

  static of(orm: MikroORM): DirectQuery | undefined {
    try {
      const connection = orm.em.getConnection() as unknown as { getKnex?(): { client?: Partial<PoolClient> } };
      const pool = connection.getKnex?.()?.client;
      if (typeof pool?.acquireConnection !== 'function' || typeof pool.releaseConnection !== 'function')
        return undefined;
      if (orm.config.get('driver')?.name !== 'PostgreSqlDriver') return undefined;
      const logger = orm.config.getLogger() as unknown as QueryLogger;
      return new DirectQuery(pool as PoolClient, logger);
    } catch {
      return undefined;
    }
  }

  /**
   * Runs one statement with `?` placeholders and gives its rows. Written with
   * `then` and an unawaited release: every promise on this path costs, more so
   * under the async hooks that the ORM's request context turns on.
   */
  rows(sql: string, params: unknown[]): Promise<Row[]> {
    const text = this.toNumbered(sql);
    const started = Date.now();
    return this.pool.acquireConnection().then((connection) =>
      connection.query(text, params).then(
        ({ rows }) => {
          this.release(connection);
          this.log(text, started, rows.length);
          return rows;
        },
        (error: unknown) => {
          this.release(connection);
          this.log(text, started, undefined, 'error');
          throw error;
        },
      ),
    );
  }

  private release(connection: PooledClient): void {
    this.pool.releaseConnection(connection).catch(() => undefined); // knex logs its own release failures
  }

  private log(query: string, started: number, results?: number, level?: 'error'): void {
    if (this.logger?.isEnabled && !this.logger.isEnabled('query')) return;
    this.logger?.logQuery({ query, took: Date.now() - started, results, ...(level ? { level } : {}) });
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
