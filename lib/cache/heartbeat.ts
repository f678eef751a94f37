/** How often a listening connection must prove it still answers, and how long it may take. */
export const HEARTBEAT_MS = 5000;
export const HEARTBEAT_TIMEOUT_MS = 2000;

/**
 * Proves a listening connection still answers. A network that drops a flow
 * silently (a NAT's or load balancer's idle timeout, a partition) sends neither
 * FIN nor RST: without this the connection would look open while no notice
 * arrives, and the cache would serve revoked sessions until its ttl. With it,
 * such a connection is given up within `HEARTBEAT_MS + HEARTBEAT_TIMEOUT_MS`.
 */
export class Heartbeat {
  private timer: NodeJS.Timeout | undefined;
  /** Which `start()` is current: a ping of an earlier one that answers late must not go on beating. */
  private run = 0;

  /** Pings every `HEARTBEAT_MS`; `silent()` once a ping fails or takes longer than `HEARTBEAT_TIMEOUT_MS`. */
  start(ping: () => Promise<unknown>, silent: () => void): void {
    this.stop();
    const run = this.run;
    const beat = async () => {
      let late: NodeJS.Timeout | undefined;
      const answered = await Promise.race([
        ping().then(
          () => true,
          () => false,
        ),
        new Promise<false>((resolve) => (late = setTimeout(() => resolve(false), HEARTBEAT_TIMEOUT_MS))),
      ]);
      clearTimeout(late);
      if (run !== this.run) return; // stopped (and perhaps started again) meanwhile
      if (answered) this.schedule(beat);
      else silent();
    };
    this.schedule(beat);
  }

  stop(): void {
    this.run++;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(beat: () => Promise<void>): void {
    this.timer = setTimeout(() => void beat(), HEARTBEAT_MS);
    this.timer.unref();
  }
}
