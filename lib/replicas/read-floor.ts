import { parseLsn } from './lsn';

/** How long a revocation inside a caller's transaction keeps reads on the primary while its position is unknown. */
const UNKNOWN_HOLD_MS = 60_000;

/**
 * The newest revocation this instance knows of, as a WAL position: a replica's
 * answer is trusted only once it has replayed past it. Raised by this
 * instance's own revocations (the primary's position once each commits), by
 * other instances' notices (which carry theirs), and, when the listener
 * (re)connects, to the primary's position then (whatever it missed).
 */
export class ReadFloor {
  private floor = 0n;
  /** Revocations inside a caller's transaction, whose position is not known until they commit: nonce → until when to wait. */
  private readonly unknown = new Map<string, number>();

  /** Moves the floor up to `lsn` (never down). */
  raise(lsn: unknown): void {
    const position = parseLsn(lsn);
    if (position !== null && position > this.floor) this.floor = position;
  }

  /** A revocation whose position is not known yet: reads go to the primary until `settle(nonce)` (or a minute). */
  hold(nonce: string): void {
    this.unknown.set(nonce, Date.now() + UNKNOWN_HOLD_MS);
  }

  settle(nonce: string): void {
    this.unknown.delete(nonce);
  }

  /** Whether a replica that has replayed up to `replayed` may answer. */
  trusts(replayed: unknown): boolean {
    if (this.unknown.size > 0) {
      const now = Date.now();
      for (const [nonce, until] of this.unknown) if (until <= now) this.unknown.delete(nonce);
      if (this.unknown.size > 0) return false;
    }
    const position = parseLsn(replayed);
    return position !== null && position >= this.floor;
  }
}
