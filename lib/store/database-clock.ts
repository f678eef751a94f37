import { logger } from '../logger';
import type { StatementRunner } from './statement-runner';
import { DB_NOW, fromEpochSeconds } from './timestamps';

/** How often the offset is measured again (clocks drift; an NTP step moves one at once). */
const RESYNC_MS = 60_000;

/** A measurement whose round trip took longer is not kept: its error could be half of it. */
const MAX_ROUND_TRIP_MS = 1000;

/** Past this offset the instance's clock is said to be off, once. */
const WARN_OFFSET_MS = 1000;

/**
 * The database's time, read on this instance: its own clock plus the offset
 * measured against `clock_timestamp()` (at start-up, then every minute), to
 * within half a round trip. The times a kind writes (`insertedAt`, each new
 * `expiresAt`) and judges here (a cached session's expiry, a route's `maxAge`)
 * come from it, so a session lives its `ttl` and `absoluteTtl` by the one clock
 * validity is judged by, whatever the instance's clock says.
 */
export class DatabaseClock {
  private offsetMs = 0;
  private timer: NodeJS.Timeout | undefined;
  private warned = false;

  constructor(
    private readonly runner: StatementRunner,
    private readonly kind: string,
  ) {}

  /** Now, by the database's clock (the instance's own until the first measurement). */
  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }

  /** `now()` in epoch ms. */
  nowMs(): number {
    return Date.now() + this.offsetMs;
  }

  /** Measures the offset now, then every minute until `stop()`. */
  async start(): Promise<void> {
    this.stop();
    const sync = () => {
      this.timer = setTimeout(() => void this.sync().finally(sync), RESYNC_MS);
      this.timer.unref();
    };
    await this.sync();
    sync();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** One measurement; a failure (the database unreachable) keeps the last offset. */
  async sync(): Promise<void> {
    try {
      const sent = Date.now();
      const [row] = await this.runner.run<Array<{ now: string }>>({
        sql: `SELECT ${DB_NOW}::text AS "now"`,
        params: [],
      });
      const received = Date.now();
      if (received - sent > MAX_ROUND_TRIP_MS) return;
      this.offsetMs = fromEpochSeconds(row.now)!.getTime() - (sent + received) / 2;
      if (Math.abs(this.offsetMs) > WARN_OFFSET_MS && !this.warned) {
        this.warned = true;
        const by = `${Math.abs(Math.round(this.offsetMs / 1000))} s ${this.offsetMs > 0 ? 'behind' : 'ahead of'}`;
        logger.warn(
          `Kind "${this.kind}": this instance's clock runs ${by} the database's; sessions are timed by the database's`,
        );
      }
    } catch {
      // the database is unreachable now: the lookups will say so
    }
  }
}
