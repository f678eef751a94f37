import type { MikroORM, Transaction } from '@mikro-orm/core';
import { withinMs } from '../deadline';
import { SessionsTimeoutError } from '../errors';
import { DirectQuery } from './direct-query';
import type { ReplicaReads } from '../replicas/replica-reads';
import type { Statement } from './statements';

type Rows = Record<string, unknown>[];

/**
 * Sends a kind's statements through the ORM's connection: inside the caller's
 * transaction when there is one (`em.transactional`), and never through an
 * identity map, so nothing leaks between requests.
 */
export class StatementRunner {
  private readonly direct: DirectQuery | undefined;
  private replicas: ReplicaReads | undefined;

  constructor(
    private readonly orm: MikroORM,
    private readonly kind: string,
    private readonly statementTimeout: number | null,
  ) {
    this.direct = DirectQuery.of(orm);
  }

  /** Where reads may go besides the primary (set once, when the kind's parts are wired). */
  readReplicas(replicas: ReplicaReads): void {
    this.replicas = replicas;
  }

  /**
   * A read (`findOne`, `list`, `count`): on a replica when one may answer
   * (lag-safe), else on the primary; inside the caller's transaction, there.
   */
  async read<T extends Rows>(statement: Statement): Promise<T> {
    if (this.replicas?.enabled && !this.inTransaction) {
      try {
        const rows = await this.replicas.read(statement.sql, statement.params);
        if (rows) return rows as T;
      } catch {
        // a replica down or failing: the primary answers
      }
    }
    return this.run<T>(statement);
  }

  /**
   * The lookup by digest: on a replica when one may answer and has the row,
   * else on the primary (a token created a moment ago may not have reached the
   * replica). `text` is the same statement with literals (`lookupText`).
   */
  async lookup(statement: Statement, text: () => string): Promise<Rows> {
    if (this.replicas?.enabled && !this.inTransaction) {
      try {
        const rows = await this.replicas.lookup(text());
        if (rows?.length) return rows;
      } catch {
        // a replica down or failing: the primary answers
      }
    }
    return this.request(statement);
  }

  /** Whether the caller is inside a transaction of the ORM's (then the statement joins it). */
  get inTransaction(): boolean {
    return !!this.orm.em.getContext(false).getTransactionContext();
  }

  /** One statement; `'run'` gives `{ affectedRows }` instead of rows. */
  run<T>(statement: Statement, method: 'all' | 'run' = 'all', transaction?: Transaction): Promise<T> {
    const em = this.orm.em.getContext(false);
    const trx = transaction ?? em.getTransactionContext();
    return em.getConnection().execute(statement.sql, statement.params, method, trx) as Promise<T>;
  }

  /**
   * A statement of a request's path (the lookup, the sliding extension): on a
   * pooled connection taken straight from the ORM's pool when possible (see
   * `DirectQuery`), and bounded by `statementTimeout`.
   */
  request(statement: Statement): Promise<Rows> {
    const rows =
      this.direct && !this.inTransaction
        ? this.direct.rows(statement.sql, statement.params)
        : this.run<Rows>(statement);
    return this.withinTimeout(rows);
  }

  /**
   * A write that may finish after the request (the last use): on its own pooled
   * connection, never inside the caller's transaction, which may have ended by then.
   */
  background(statement: Statement): Promise<unknown> {
    if (this.direct) return this.direct.rows(statement.sql, statement.params);
    return this.orm.em.getConnection().execute(statement.sql, statement.params, 'all');
  }

  /**
   * The caller gets a `SessionsTimeoutError` once `statementTimeout` passes (the
   * guard answers 503); the statement itself finishes or fails in the
   * background, its connection going back to the pool.
   */
  private withinTimeout<T>(statement: Promise<T>): Promise<T> {
    const limit = this.statementTimeout;
    if (limit === null) return statement;
    return withinMs(statement, limit * 1000, () => new SessionsTimeoutError(this.kind, limit));
  }
}
