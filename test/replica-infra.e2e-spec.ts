import { Client } from 'pg';
import { onPglite } from './support/database';

/**
 * The streaming replica that `.ci/replica.sh` starts (it prints the URL base to set
 * as REPLICA_URL) is real and lags for certain: it applies WAL 3 s after each commit
 * (`recovery_min_apply_delay`). Tests of replica reads lean on both.
 */
const replica = process.env.REPLICA_URL;
const runs = !onPglite() && !!replica;
if (!runs) {
  console.info(
    `test/replica-infra skipped: ${onPglite() ? 'needs a real server' : 'REPLICA_URL is not set (.ci/replica.sh)'}`,
  );
}

/** The test database, on the replica (it has every database of the primary). */
function onReplica(): string {
  const direct = new URL(process.env.DATABASE_URL!);
  return `${replica!.replace(/\/$/, '')}${direct.pathname}`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `check` holds, for at most `ms`; returns how long it took, or fails. */
async function within(ms: number, what: string, check: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > ms) throw new Error(`not within ${ms} ms: ${what}`);
    await sleep(50);
  }
  return Date.now() - started;
}

(runs ? describe : describe.skip)('the streaming replica of .ci/replica.sh', () => {
  const table = `replica_infra_${process.pid}_${Date.now()}`;
  let primary: Client;
  let standby: Client;

  /** The primary's WAL position `a` minus `b`, in bytes. */
  const behind = async (a: string, b: string): Promise<number> => {
    const { rows } = await primary.query<{ bytes: string }>('SELECT pg_wal_lsn_diff($1, $2)::text AS bytes', [a, b]);
    return Number(rows[0].bytes);
  };
  const one = async <T>(client: Client, query: string, params: unknown[] = []): Promise<T> =>
    Object.values((await client.query(query, params)).rows[0])[0] as T;
  const seen = async (token: string): Promise<boolean> =>
    (await one<number>(standby, `SELECT count(*)::int FROM ${table} WHERE token = $1`, [token])) === 1;

  beforeAll(async () => {
    primary = new Client({ connectionString: process.env.DATABASE_URL });
    standby = new Client({ connectionString: onReplica() });
    await primary.connect();
    await standby.connect();
    await primary.query(`CREATE TABLE ${table} (id serial PRIMARY KEY, token text NOT NULL)`);
    await within(
      15_000,
      'the scratch table reaches the replica',
      async () => !!(await one<string | null>(standby, 'SELECT to_regclass($1)::text', [table])),
    );
  });
  afterAll(async () => {
    await primary?.query(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
    await standby?.end();
    await primary?.end();
  });

  it('is a hot standby of this very primary, applying WAL 3 s late', async () => {
    expect(await one<boolean>(standby, 'SELECT pg_is_in_recovery()')).toBe(true);
    expect(await one<boolean>(primary, 'SELECT pg_is_in_recovery()')).toBe(false);
    const id = 'SELECT system_identifier::text FROM pg_control_system()';
    expect(await one<string>(standby, id)).toBe(await one<string>(primary, id));
    expect(await one<string>(standby, 'SHOW recovery_min_apply_delay')).toBe('3s');
    expect(await one<string>(standby, 'SELECT current_database()')).toBe(
      await one<string>(primary, 'SELECT current_database()'),
    );
  });

  it('a committed row is not on the replica at once, and is within 10 s (about 3 s later)', async () => {
    const token = `row-${Date.now()}`;
    await primary.query(`INSERT INTO ${table} (token) VALUES ($1)`, [token]);
    expect(await seen(token)).toBe(false);
    const took = await within(10_000, 'the row reaches the replica', () => seen(token));
    expect(took).toBeGreaterThanOrEqual(2_000);
  });

  it("the replica's replay position is behind the primary's right after a write, and catches up", async () => {
    await primary.query(`INSERT INTO ${table} (token) VALUES ($1)`, [`lsn-${Date.now()}`]);
    const written = await one<string>(primary, 'SELECT pg_current_wal_lsn()::text');
    const replayed = await one<string>(standby, 'SELECT pg_last_wal_replay_lsn()::text');
    expect(await behind(written, replayed)).toBeGreaterThan(0);
    // The WAL itself arrives at once (streaming); only its replay waits.
    await within(2_000, 'the replica receives the WAL', async () => {
      const lsn = await one<string | null>(standby, 'SELECT pg_last_wal_receive_lsn()::text');
      return !!lsn && (await behind(written, lsn)) <= 0;
    });
    const replay = await within(10_000, 'the replica replays the WAL', async () => {
      const lsn = await one<string>(standby, 'SELECT pg_last_wal_replay_lsn()::text');
      return (await behind(written, lsn)) <= 0;
    });
    expect(replay).toBeGreaterThanOrEqual(1_000);
  });
});
