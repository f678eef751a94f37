/** A revocation waiting to be heard by the listeners `expected` (pids; `undefined` until the notice is sent). */
interface Pending {
  heard: Set<number>;
  expected: number[] | undefined;
  done(heard: boolean): void;
}

/**
 * The revocations this instance sent and is waiting on: each is done once
 * every listener it was sent to (by backend pid) has answered, or at a timeout.
 */
export class Acknowledgements {
  private readonly pending = new Map<string, Pending>();

  /** Whether `nonce` is one of ours still waiting (a notice with it is our own echo). */
  has(nonce: string): boolean {
    return this.pending.has(nonce);
  }

  /**
   * Waits until `send` (which publishes the notice and returns the pids of the
   * listeners to hear from) has been answered by each of them; `false` after
   * `timeoutMs`. Registered before sending: answers may come before `send` returns.
   */
  async wait(nonce: string, send: () => Promise<number[]>, timeoutMs: number): Promise<boolean> {
    let entry!: Pending;
    const outcome = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => entry.done(false), timeoutMs);
      timer.unref();
      entry = {
        heard: new Set(),
        expected: undefined,
        done: (heard) => {
          clearTimeout(timer);
          this.pending.delete(nonce);
          resolve(heard);
        },
      };
    });
    this.pending.set(nonce, entry);
    try {
      entry.expected = await send();
    } catch (error) {
      entry.done(false);
      throw error;
    }
    this.settle(entry);
    return outcome;
  }

  /** The listener of backend `pid` has answered `nonce`. */
  heard(nonce: string, pid: number): void {
    const entry = this.pending.get(nonce);
    if (!entry) return;
    entry.heard.add(pid);
    this.settle(entry);
  }

  /** Gives up on every wait (the connection that hears answers is gone). */
  abandonAll(): void {
    for (const entry of [...this.pending.values()]) entry.done(false);
  }

  private settle(entry: Pending): void {
    if (entry.expected?.every((pid) => entry.heard.has(pid))) entry.done(true);
  }
}
