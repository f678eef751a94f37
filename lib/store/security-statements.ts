import type { SessionStatements, Statement, Where } from './statements';
import { DB_NOW, epoch, iso } from './timestamps';
import { LAST_USE_DUE } from './validity';

/**
 * The SQL of the opt-in security features (DESIGN §6): rotation, last use and
 * the per-user cap. Times they write and compare are the database's clock, as
 * validity is, so no instance's clock can stretch a grace or an interval.
 */
export class SecurityStatements {
  constructor(private readonly statements: SessionStatements) {}

  /**
   * Gives a valid session a new token digest, keeping the replaced one (for its
   * grace) and nothing older. With `from`, only when the session's current digest
   * is one of these and it was last rotated (else created) `every` seconds ago or
   * more: of concurrent requests that found the token due, one rotates it.
   */
  rotate(id: string, digest: string, now: Date, from?: { digests: string[]; every: number }): Statement {
    const { table, returning, validity } = this.statements;
    const valid = validity.now();
    const due = from
      ? ` AND "auth_token_digest" IN (${from.digests.map(() => '?').join(', ')}) AND ` +
        `coalesce(${epoch('"rotated_at"')}, ${epoch('"inserted_at"')}) <= ${DB_NOW} - ?`
      : '';
    return {
      sql:
        `UPDATE ${table} SET "previous_auth_token_digest" = "auth_token_digest", "auth_token_digest" = ?, ` +
        `"rotated_at" = clock_timestamp(), "updated_at" = ? WHERE "id" = ? AND ${valid.sql}${due} RETURNING ${returning}`,
      params: [digest, iso(now), id, ...valid.params, ...(from ? [...from.digests, from.every] : [])],
    };
  }

  /**
   * Records a use when the last one is `interval` seconds old or more: of any
   * number of racing requests, one writes (the row lock makes the others see its write).
   */
  touch(id: string, interval: number): Statement {
    const { table } = this.statements;
    return {
      sql: `UPDATE ${table} SET "last_used_at" = clock_timestamp() WHERE "id" = ? AND ${LAST_USE_DUE}`,
      params: [id, interval],
    };
  }

  /**
   * Serialises the creations of one user's sessions until the transaction ends
   * (a transaction-level lock: it works through transaction poolers), and says
   * the transaction's isolation level: under REPEATABLE READ the snapshot was
   * taken before the lock was granted, so the count would miss logins committed meanwhile.
   */
  capLock(value: unknown): Statement {
    return {
      sql:
        'SELECT pg_advisory_xact_lock(hashtext(?), hashtext(?)) IS NULL AS "locked", ' +
        `current_setting('transaction_isolation') AS "isolation"`,
      params: [`nestjs-ecto-sessions:cap:${this.statements.table}`, String(value)],
    };
  }

  /** The ids of one user's valid sessions, oldest first. */
  holders(where: Where): Statement {
    return {
      sql: `SELECT "id" FROM ${this.statements.table}${where.sql} ORDER BY "inserted_at" ASC, "id" ASC`,
      params: where.params,
    };
  }
}
