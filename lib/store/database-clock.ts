import { logger } from '../logger';
import type { StatementRunner } from './statement-runner';
import { DB_NOW, fromEpochSeconds } from './timestamps';

/** How often the offset is measured again (clocks drift; an NTP step moves one at once). */
const RESYNC_MS = 60_000;

/** Until a first measurement succeeds, it is tried again this soon (then twice as late, up to `RESYNC_MS`). */
const FIRST_RETRY_MS = 1000;

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
  private stopped = false;
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

  /**
   * Measures the offset now, then every minute until `stop()`; until a first
   * measurement succeeds, again after 1 s, 2 s, 4 s...
   */
  async start(): Promise<void> {
    let measured = false;
    let retry = FIRST_RETRY_MS;
    const next = async () => {
      measured = (await this.sync()) || measured;
      if (this.stopped) return;
      const delay = measured ? RESYNC_MS : retry;
      retry = Math.min(retry * 2, RESYNC_MS);
      this.timer = setTimeout(() => void next(), delay);
      this.timer.unref();
    };
    await next();
  }

  /** Stops measuring, for good (the app is closing). */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** One measurement; `false` when it failed or took too long (the last offset stays). */
  async sync(): Promise<boolean> {
    try {
      const sent = Date.now();
      const [row] = await this.runner.run<Array<{ now: string }>>({
        sql: `SELECT ${DB_NOW}::text AS "now"`,
        params: [],
      });
      const received = Date.now();
      if (received - sent > MAX_ROUND_TRIP_MS) return false;
      const offset = fromEpochSeconds(row.now)!.getTime() - (sent + received) / 2;
      // Within the measurement's own error the clocks cannot be told apart: keep the instance's.
      this.offsetMs = Math.abs(offset) <= (received - sent) / 2 + 1 ? 0 : offset;
      if (Math.abs(this.offsetMs) > WARN_OFFSET_MS && !this.warned) {
        this.warned = true;
        const by = `${Math.abs(Math.round(this.offsetMs / 1000))} s ${this.offsetMs > 0 ? 'behind' : 'ahead of'}`;
        logger.warn(
          `Kind "${this.kind}": this instance's clock runs ${by} the database's; sessions are timed by the database's`,
        );
      }
      return true;
    } catch {
      return false; // the database is unreachable now: the lookups will say so
    }
  }
}
