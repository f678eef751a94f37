/** How long a backend's role, once checked, is taken as known (pids are reused once a backend exits). */
const SENDER_CHECK_MS = 5000;

/** Past this many remembered pids the memo starts afresh. */
const MAX_REMEMBERED = 10_000;

/**
 * Whether a notice's sender (the backend pid PostgreSQL puts on every
 * notification, which no one can forge) is a backend of this app's own role.
 * Any role that can connect may NOTIFY on the channel; only ours may revoke,
 * acknowledge or echo. Checked in `pg_stat_activity` for all of the role's
 * backends at once and remembered for a few seconds, so a flood of notices from
 * another role costs one query.
 */
export class SenderRoles {
  /** pid → whether it is a backend of this app's role, and when that was checked. */
  private readonly known = new Map<number, { ours: boolean; at: number }>();
  private checking: Promise<void> | undefined;

  constructor(
    /** The pids of the role's backends, asked on the listening connection. */
    private readonly ourPids: () => Promise<number[]>,
  ) {}

  async isOurs(pid: number): Promise<boolean> {
    let known = this.fresh(pid);
    if (known) return known.ours;
    if (this.checking) {
      await this.checking; // one in flight may answer for this pid too
      known = this.fresh(pid);
      if (known) return known.ours;
    }
    const check = this.check(pid);
    this.checking = check;
    await check;
    if (this.checking === check) this.checking = undefined;
    return this.fresh(pid)?.ours === true;
  }

  private fresh(pid: number): { ours: boolean } | undefined {
    const known = this.known.get(pid);
    return known && Date.now() - known.at < SENDER_CHECK_MS ? known : undefined;
  }

  private async check(pid: number): Promise<void> {
    const at = Date.now();
    if (this.known.size > MAX_REMEMBERED) this.known.clear();
    try {
      const pids = await this.ourPids();
      for (const ours of pids) this.known.set(ours, { ours: true, at });
      if (!pids.includes(pid)) this.known.set(pid, { ours: false, at });
    } catch {
      // the connection is failing: the listener handles that, and the notice is not trusted
    }
  }
}
