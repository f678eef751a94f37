import type { IsolationLevel, MikroORM, Transaction } from '@mikro-orm/core';
import type { DatabaseClock } from '../store/database-clock';
import type { Revocations } from '../cache/revocations';
import { SessionLimitError, SessionsOptionsError } from '../errors';
import type { SessionEvents } from '../events/session-events';
import type { ResolvedSessionsOptions } from '../options/options.interface';
import type { SessionRows } from '../store/rows';
import type { SecurityStatements } from '../store/security-statements';
import type { Session } from '../store/session.entity';
import type { StatementRunner } from '../store/statement-runner';
import type { SessionStatements, Statement } from '../store/statements';

type Rows = Record<string, unknown>[];

/** `IsolationLevel.READ_COMMITTED` of MikroORM 6 and 7, without importing the ORM's runtime here. */
const READ_COMMITTED = 'read committed' as IsolationLevel;

/** What an insert under the cap gave: the new row, and the sessions it expired to make room. */
export interface CappedInsert {
  row: Record<string, unknown>;
  expired: Session[];
}

/**
 * `maxPerUser`: at most `max` valid sessions per value of the cap's column.
 * One transaction takes a lock keyed by the table and the user, counts the
 * user's valid sessions, expires the oldest (or refuses) and inserts: concurrent
 * logins of one user, on any number of instances, take turns.
 */
export class SessionCap {
  private readonly cap: NonNullable<ResolvedSessionsOptions['maxPerUser']>;

  constructor(
    private readonly options: ResolvedSessionsOptions,
    private readonly orm: MikroORM,
    private readonly statements: SessionStatements,
    private readonly security: SecurityStatements,
    private readonly runner: StatementRunner,
    private readonly rows: SessionRows,
    private readonly revocations: Revocations,
    private readonly events: SessionEvents,
    private readonly clock: DatabaseClock,
  ) {
    this.cap = options.maxPerUser!;
  }

  /** Runs `insert` under the cap of the user in `attrs` (none without a user). */
  async insert(attrs: Record<string, unknown>, insert: Statement): Promise<CappedInsert> {
    const user = attrs[this.cap.column];
    if (user === undefined || user === null) return { row: (await this.runner.run<Rows>(insert))[0], expired: [] };
    const where = this.statements.where({ [this.cap.column]: user as never }, 'database', () => [], 'valid', 'create');
    const work = async (trx?: Transaction): Promise<CappedInsert> => {
      const [{ isolation }] = await this.runner.run<Array<{ isolation: string }>>(
        this.security.capLock(user),
        'all',
        trx,
      );
      // REPEATABLE READ took its snapshot before the lock was granted: the count below would
      // miss the logins committed while this one waited, and let more than `max` in.
      // (SERIALIZABLE aborts one of two such transactions instead; READ COMMITTED sees them.)
      if (isolation === 'repeatable read') {
        throw new SessionsOptionsError(
          this.options.name,
          'maxPerUser',
          'cannot be enforced inside a REPEATABLE READ transaction (its snapshot predates the lock): ' +
            'create the session outside it, or in a READ COMMITTED or SERIALIZABLE one',
        );
      }
      const holders = await this.runner.run<Array<{ id: string }>>(this.security.holders(where), 'all', trx);
      const over = holders.length - this.cap.max + 1;
      let expired: Session[] = [];
      if (over > 0) {
        if (this.cap.onLimit === 'refuse') throw new SessionLimitError(this.options.name, this.cap.max);
        const ids = holders.slice(0, over).map((holder) => holder.id);
        const ended = await this.runner.run<Rows>(this.statements.expire(ids, this.clock.now()), 'all', trx);
        expired = ended.map((row) => this.rows.toSession(row));
      }
      const [row] = await this.runner.run<Rows>(insert, 'all', trx);
      return { row, expired };
    };
    // Inside the caller's transaction, the lock lasts until it ends; else in one of our own.
    const result = this.runner.inTransaction
      ? await work()
      : await this.orm.em
          .getConnection()
          // READ COMMITTED whatever the database's default: each statement sees what the lock's previous holder committed.
          .transactional((trx) => work(trx), { isolationLevel: READ_COMMITTED });
    if (result.expired.length > 0) {
      // Committed (or in the caller's transaction): now caches and replicas must not serve them.
      await this.revocations.revoke(
        result.expired.map((session) => session.id),
        async () => undefined,
      );
      for (const session of result.expired) this.events.emit('expired', { kind: this.options.name, session });
    }
    return result;
  }
}
