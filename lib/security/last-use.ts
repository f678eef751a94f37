import { logger } from '../logger';
import type { SecurityStatements } from '../store/security-statements';
import type { Session } from '../store/session.entity';
import type { StatementRunner } from '../store/statement-runner';

/** Bound on the memo of recent writes. */
const RECENT = 10_000;

/**
 * `trackLastUsed`: records a session's last use at most once per interval.
 * The statement is conditional (the database decides, by its clock), so racing
 * requests on any number of instances write once; this process's memo keeps
 * its own concurrent requests from even sending it.
 */
export class LastUse {
  /** Session id → when this process last sent (or piggybacked) a write, in ms. */
  private readonly recent = new Map<string, number>();
  private readonly intervalMs: number;

  constructor(
    private readonly kind: string,
    private readonly interval: number,
    private readonly statements: SecurityStatements,
    private readonly runner: StatementRunner,
  ) {
    this.intervalMs = interval * 1000;
  }

  /** Whether a use now should be written. */
  isDue(session: Session, now: number): boolean {
    const last = Math.max(session.lastUsedAt?.getTime() ?? 0, this.recent.get(session.id) ?? 0);
    return now - last >= this.intervalMs;
  }

  /**
   * Records a use: nothing when not due; when `written` (a sliding extension
   * carried it), only the memo; else the conditional write, in the background
   * (it may finish after the answer, and its failure only costs the record).
   */
  record(session: Session, now: number, written: boolean): void {
    if (!this.isDue(session, now)) return;
    if (this.recent.size >= RECENT) this.recent.clear();
    this.recent.set(session.id, now);
    if (written) return;
    this.runner.background(this.statements.touch(session.id, this.interval)).then(undefined, (error: unknown) => {
      this.recent.delete(session.id);
      logger.warn(`Recording the last use of a "${this.kind}" session failed (${(error as Error)?.name ?? 'error'})`);
    });
  }
}
