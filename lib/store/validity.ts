import { DB_NOW, epoch, iso } from './timestamps';

/** A SQL condition and its parameters. */
export interface Condition {
  sql: string;
  params: unknown[];
}

/**
 * What "a valid session" means in SQL, written once: not expired, and, with
 * `absoluteTtl`, younger than it. By the database's clock (the lookup, the
 * sliding extension, listings), or at a given instant as plain comparisons that
 * the expires_at index serves (pruning's cutoff).
 */
export class Validity {
  /** The same condition for every statement: built once. */
  private readonly validNow: Condition;

  constructor(private readonly absoluteTtl: number | null) {
    const notExpired = `("expires_at" IS NULL OR ${epoch('"expires_at"')} > ${DB_NOW})`;
    this.validNow =
      absoluteTtl === null
        ? { sql: notExpired, params: [] }
        : { sql: `${notExpired} AND ${epoch('"inserted_at"')} > ${DB_NOW} - ?`, params: [absoluteTtl] };
  }

  /** Valid now, by the database's clock. */
  now(): Condition {
    return this.validNow;
  }

  /** No longer valid now, by the database's clock. */
  endedNow(): Condition {
    const valid = this.now();
    return { sql: `NOT (${valid.sql})`, params: valid.params };
  }

  /** Valid at `at`. */
  at(at: Date): Condition {
    if (this.absoluteTtl === null) return { sql: '("expires_at" IS NULL OR "expires_at" > ?)', params: [iso(at)] };
    return {
      sql: '("expires_at" IS NULL OR "expires_at" > ?) AND "inserted_at" > ?',
      params: [iso(at), this.absoluteCutoff(at)],
    };
  }

  /** Ended at `at`. */
  endedAt(at: Date): Condition {
    if (this.absoluteTtl === null) return { sql: '"expires_at" <= ?', params: [iso(at)] };
    return { sql: '("expires_at" <= ? OR "inserted_at" <= ?)', params: [iso(at), this.absoluteCutoff(at)] };
  }

  private absoluteCutoff(at: Date): string {
    return iso(new Date(at.getTime() - this.absoluteTtl! * 1000));
  }
}

/** Whether a session's last use is `?` seconds old or more (or was never recorded), by the database's clock. */
export const LAST_USE_DUE = `("last_used_at" IS NULL OR ${epoch('"last_used_at"')} <= ${DB_NOW} - ?)`;
