import type { MikroORM } from '@mikro-orm/core';
import type { Revocations } from '../cache/revocations';
import type { SessionEvents } from '../events/session-events';
import { logger } from '../logger';
import type { ResolvedSessionsOptions } from '../options/options.interface';
import type { StatementRunner } from '../store/statement-runner';
import { pruneBatch, pruneLock } from '../store/prune-statements';
import type { SessionStatements, Where } from '../store/statements';

/**
 * Deletes expired rows (the seed's ExpiredSessionPruner): on `pruneInterval`,
 * or when called. One instance of many prunes a table at a time.
 */
export class Pruner {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number | null> | undefined;

  constructor(
    private readonly options: ResolvedSessionsOptions,
    private readonly orm: MikroORM,
    private readonly statements: SessionStatements,
    private readonly runner: StatementRunner,
    private readonly events: SessionEvents,
    private readonly revocations: Revocations,
  ) {}

  /** Starts the timer of `pruneInterval`, if any; it never keeps the process alive. */
  start(): void {
    const interval = this.options.pruneInterval;
    if (interval === null || this.timer) return;
    this.timer = setInterval(() => void this.inBackground(), interval * 1000);
    this.timer.unref();
  }

  /** Stops the timer and waits for a running cycle, before the ORM closes. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  /**
   * One cycle: in one transaction that first takes an advisory lock keyed by the
   * table (transaction-scoped, so it works through transaction poolers), deletes
   * rows expired for longer than `pruneGrace` by the database's clock, in batches
   * of `pruneBatchSize`. `null` when another instance holds the lock.
   */
  async prune(): Promise<number | null> {
    const { pruneGrace, pruneBatchSize, tableName } = this.options;
    const deleted = await this.orm.em.getConnection().transactional(async (trx) => {
      const [{ locked, now }] = await this.runner.run<Array<{ locked: boolean; now: string }>>(
        pruneLock(this.statements.table),
        'all',
        trx,
      );
      if (!locked) return null;
      const batch = pruneBatch(
        this.statements.table,
        this.expiredAt(new Date(Number(now) - pruneGrace * 1000)),
        pruneBatchSize,
      );
      let total = 0;
      for (;;) {
        const { affectedRows } = await this.runner.run<{ affectedRows: number }>(batch, 'run', trx);
        total += affectedRows;
        if (affectedRows < pruneBatchSize) return total;
      }
    });
    if (deleted === null) {
      logger.debug(`Pruning of "${tableName}" skipped: another instance holds the lock`);
    } else {
      logger[deleted > 0 ? 'log' : 'debug'](`Pruned ${deleted} expired sessions from "${tableName}"`);
      if (deleted > 0) {
        await this.revocations.deleted(); // a lagging replica must not show them any more
        this.events.emit('pruned', { kind: this.options.name, count: deleted });
      }
    }
    return deleted;
  }

  /** Rows expired at `cutoff`, as a plain bound that the expires_at index serves. */
  private expiredAt(cutoff: Date): Where {
    return this.statements.where({ status: 'expired' }, cutoff, () => [], 'expired', 'prune');
  }

  /** A timer's cycle: one at a time, and a failure (database away) is logged, never thrown. */
  private async inBackground(): Promise<void> {
    if (this.running) return;
    this.running = this.prune();
    try {
      await this.running;
    } catch (error) {
      logger.warn(
        `Pruning of "${this.options.tableName}" failed: ${(error as Error)?.name ?? 'error'}; retrying next cycle`,
      );
    } finally {
      this.running = undefined;
    }
  }
}
