import { readFileSync, statSync } from 'node:fs';
import type { EctoSessionsOptions, SessionsService } from '../lib';
import { createTestApp, type TestApp } from './support/app';
import { onPglite, sql } from './support/database';
import { withClockOffset } from './support/clock';
import { CapturingLogger } from './support/http';
import { poolerRuns, throughPooler } from './support/pooler';
import { startTcpProxy } from './support/tcp-proxy';

/**
 * On a real streaming replica that applies WAL 3 s late (`.ci/replica.sh`,
 * which prints the URL to set as REPLICA_URL), over two app instances.
 */
const replica = process.env.REPLICA_URL;
const REPLICA_LOG = process.env.REPLICA_LOG ?? '/tmp/ecto-sessions-replica/replica.log';
const runs = !onPglite() && !!replica;
if (!runs) {
  console.info(
    `test/replica-reads skipped: ${onPglite() ? 'needs a real server' : 'REPLICA_URL is not set (.ci/replica.sh)'}`,
  );
}

const database = () => new URL(process.env.DATABASE_URL!).pathname; // '/name'
const replicaUrl = () => `${replica!.replace(/\/$/, '')}${database()}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Lookups by digest the replica served for this database since `from` (a byte offset of its log). */
function replicaLookups(from: number): number {
  const log = readFileSync(REPLICA_LOG, 'utf8').slice(from);
  const name = database().slice(1);
  return log.split('\n').filter((line) => line.includes(` ${name} `) && /WHERE "auth_token_digest"/.test(line)).length;
}
const logSize = () => statSync(REPLICA_LOG).size;

/** Until the replica has what the primary has now (its apply delay is 3 s). */
async function replicated(t: TestApp): Promise<void> {
  const [{ lsn }] = await sql<{ lsn: string }>(t.orm, 'SELECT pg_current_wal_insert_lsn()::text AS lsn');
  const { Client } = await import('pg');
  const client = new Client({ connectionString: replicaUrl() });
  await client.connect();
  try {
    for (let i = 0; i < 200; i++) {
      const { rows } = await client.query('SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS done', [lsn]);
      if (rows[0].done) return;
      await sleep(50);
    }
    throw new Error('the replica did not catch up');
  } finally {
    await client.end();
  }
}

(runs ? describe : describe.skip)('lag-safe reads on a streaming replica (3 s behind)', () => {
  let a: TestApp;
  let b: TestApp;
  let sa: SessionsService;
  let sb: SessionsService;

  const boot = (kinds: object[], recreate = false, orm: object = {}) =>
    createTestApp({ kinds, recreate, orm: { replicas: [{ clientUrl: replicaUrl() }], ...orm } });
  const serving = async (...services: SessionsService[]) => {
    for (let i = 0; i < 400 && !services.every((s) => s.cacheStatus.listener === 'listening'); i++) await sleep(10);
    expect(services.map((s) => s.cacheStatus.listener)).toEqual(services.map(() => 'listening'));
  };

  /** Two instances of a kind with its own table (made here), both listening: `fn` gets their services. */
  const twoInstances = async (
    kind: EctoSessionsOptions & { name: string },
    fn: (x: SessionsService, y: SessionsService, first: TestApp) => Promise<void>,
  ) => {
    const ra = await boot([kind]);
    const rb = await boot([kind]);
    try {
      await ra.orm.schema.updateSchema({ wrap: false, dropTables: false, safe: true });
      const [x, y] = [ra.sessions(kind.name), rb.sessions(kind.name)];
      await serving(x, y);
      await fn(x, y, ra);
    } finally {
      await ra.close();
      await rb.close();
    }
  };

  beforeAll(async () => {
    a = await boot([{ ttl: '1h' }], true);
    b = await boot([{ ttl: '1h' }]);
    sa = a.sessions();
    sb = b.sessions();
    await serving(sa, sb);
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  it('40 lookups of a replicated token on two instances are served by the replica', async () => {
    const { token } = await sa.create({ userId: 'r' });
    await replicated(a);
    const from = logSize();
    for (let i = 0; i < 20; i++) {
      expect(await sa.authenticate(token, { extend: false })).not.toBeNull();
      expect(await sb.authenticate(token, { extend: false })).not.toBeNull();
    }
    await sleep(200); // the log is written as statements run
    expect(replicaLookups(from)).toBe(40);
  });

  it('a token created a moment ago authenticates at once on every instance (the primary answers the miss)', async () => {
    const { token } = await sa.create({ userId: 'new' });
    expect(await sb.authenticate(token)).not.toBeNull();
    expect(await sa.authenticate(token)).not.toBeNull();
  });

  it.each([
    ['delete', (s: SessionsService, id: string) => s.delete(id)],
    ['expire', (s: SessionsService, id: string) => s.expire(id)],
    ['deleteAll', (s: SessionsService, id: string) => s.deleteAll({ id })],
  ])('%s on one instance: refused at once on both, though the replica still has it', async (_, revoke) => {
    const { session, token } = await sa.create({ userId: 'revoked' });
    await replicated(a);
    expect(await sb.authenticate(token)).not.toBeNull();
    await revoke(sa, session.id);
    expect(await sb.authenticate(token)).toBeNull();
    expect(await sa.authenticate(token)).toBeNull();
    // The revoking instance's own listing never shows it as valid.
    expect(await sa.count({ userId: 'revoked' })).toBe(0);
    expect(await sa.list({ userId: 'revoked' })).toEqual([]);
    expect(await sa.findOne({ id: session.id })).toBeNull();
    // The replica itself still has it (3 s behind): the answers above were not the replica's.
    const { Client } = await import('pg');
    const client = new Client({ connectionString: replicaUrl() });
    await client.connect();
    try {
      const { rows } = await client.query(
        `SELECT count(*)::int AS n FROM sessions WHERE id = $1 AND (expires_at IS NULL OR expires_at > now())`,
        [session.id],
      );
      expect(rows[0].n).toBe(1);
    } finally {
      await client.end();
    }
  });

  it('clocks 2 s apart: after expire() on one instance, the other (reading the replica) neither honours nor slides it', async () => {
    const { session, token } = await sa.create({ userId: 'skewed' });
    await replicated(a);
    expect(await sb.authenticate(token, { extend: false })).not.toBeNull();
    await withClockOffset(2000, () => sa.expire(session.id));
    expect(await withClockOffset(-2000, () => sb.authenticate(token))).toBeNull();
    expect(await sb.count({ userId: 'skewed' })).toBe(0);
  });

  it('update on one instance: the other sees the new data at once', async () => {
    const { session, token } = await sa.create({ userId: 'u', data: { plan: 'free' } });
    await replicated(a);
    expect((await sb.authenticate(token))!.data).toEqual({ plan: 'free' });
    await sa.update(session, { data: { plan: 'pro' } });
    expect((await sb.authenticate(token))!.data).toEqual({ plan: 'pro' });
  });

  it('an instance with no listener of its own (no cache, no replica reads) revokes: the others refuse within moments', async () => {
    const worker = await createTestApp({ kinds: [{ ttl: '1h' }], recreate: false }); // e.g. an admin app
    try {
      const { session, token } = await sa.create({ userId: 'worker' });
      await replicated(a);
      expect(await sb.authenticate(token, { extend: false })).not.toBeNull();
      await worker.sessions().delete(session);
      // Its notice carries no WAL position: b takes the primary's on arrival. Well inside the replica's 3 s lag.
      const started = Date.now();
      while ((await sb.authenticate(token, { extend: false })) !== null) {
        if (Date.now() - started > 1000) throw new Error('still accepted 1 s after delete() returned');
        await sleep(20);
      }
    } finally {
      await worker.close();
    }
  });

  it('pruning on one instance: a pruned session is refused at once on the other', async () => {
    const { session, token } = await sa.create({ userId: 'pruned' });
    await replicated(a);
    expect(await sb.authenticate(token, { extend: false })).not.toBeNull();
    await sql(a.orm, `UPDATE sessions SET expires_at = now() + interval '2 seconds' WHERE id = ?`, [session.id]);
    await replicated(a);
    await sleep(2100); // now expired, on the primary and on the replica
    expect(await sa.prune()).toBeGreaterThanOrEqual(1);
    expect(await sb.findOne({ id: session.id, status: 'all' })).toBeNull();
  });

  it('inside a transaction, a revocation keeps this instance on the primary until it commits', async () => {
    const { session, token } = await sa.create({ userId: 'tx' });
    await replicated(a);
    await a.orm.em.transactional(async () => {
      await sa.delete(session);
    });
    expect(await sa.authenticate(token)).toBeNull();
    for (let i = 0; i < 100 && (await sb.authenticate(token)) !== null; i++) await sleep(10);
    expect(await sb.authenticate(token)).toBeNull(); // once the notice arrived
  });

  it('with the cache on as well: revocations reach every instance as without replicas', async () => {
    const ca = await boot([{ ttl: '1h', cache: { ttl: '10m' } }]);
    const cb = await boot([{ ttl: '1h', cache: { ttl: '10m' } }]);
    try {
      const [x, y] = [ca.sessions(), cb.sessions()];
      await serving(x, y);
      for (let i = 0; i < 400 && !(x.cacheStatus.serving && y.cacheStatus.serving); i++) await sleep(10);
      const { session, token } = await x.create({ userId: 'cached' });
      expect(await y.authenticate(token)).not.toBeNull(); // cached on y now
      await x.expire(session);
      expect(await y.authenticate(token)).toBeNull();
    } finally {
      await ca.close();
      await cb.close();
    }
  });

  it('rotation: a token two rotations old is refused at once however far the replica lags; the new one works at once', async () => {
    await twoInstances({ name: 'rotating', ttl: '1h', rotation: { grace: '1m' } }, async (x, y, ra) => {
      const { session, token: t0 } = await x.create({ userId: 'rotating' });
      await replicated(ra); // the replica has t0 as the current token
      expect(await y.authenticate(t0)).not.toBeNull();
      const { token: t1 } = (await x.rotate(session))!;
      const { token: t2 } = (await x.rotate(session))!;
      // The replica still shows t0 as current for 3 s: y must not trust it.
      expect(await y.authenticate(t0)).toBeNull();
      expect((await y.authenticate(t1))?.id).toBe(session.id); // replaced, inside its grace
      expect((await y.authenticate(t2))?.id).toBe(session.id);
    });
  });

  it('scopes: a scope update() on one instance is seen at once by the other, however far the replica lags', async () => {
    await twoInstances({ name: 'scoped', ttl: null, scopes: true }, async (x, y, ra) => {
      const { session, token } = await x.create({ userId: 'scoped', scopes: ['read', 'write'] });
      await replicated(ra); // the replica has both scopes
      expect((await y.authenticate(token))?.scopes).toEqual(['read', 'write']);
      await x.update(session, { scopes: ['read'] });
      // The replica still shows both scopes for 3 s: y must not trust it.
      expect((await y.authenticate(token))?.scopes).toEqual(['read']);
    });
  });

  it('maxPerUser: a session the cap expired on one instance is refused at once by the other, however far the replica lags', async () => {
    await twoInstances({ name: 'capped', ttl: '1h', maxPerUser: { max: 1 } }, async (x, y, ra) => {
      const first = await x.create({ userId: 'capped' });
      await replicated(ra); // the replica has the first session valid
      expect(await y.authenticate(first.token)).not.toBeNull();
      const second = await x.create({ userId: 'capped' });
      expect(second.expired!.map((s) => s.id)).toEqual([first.session.id]);
      // The replica still shows the first session valid for 3 s: y must not trust it.
      expect(await y.authenticate(first.token)).toBeNull();
      expect(await y.count({ userId: 'capped' })).toBe(1);
    });
  });

  it('preferReadReplicas: false keeps every read on the primary', async () => {
    const p = await boot([{ ttl: '1h', preferReadReplicas: false }]);
    try {
      const { token } = await p.sessions().create({ userId: 'primary' });
      await replicated(a);
      const from = logSize();
      for (let i = 0; i < 10; i++) expect(await p.sessions().authenticate(token)).not.toBeNull();
      await p.sessions().count({ userId: 'primary' });
      await sleep(200);
      expect(replicaLookups(from)).toBe(0);
    } finally {
      await p.close();
    }
  });

  it('a listener whose connection goes silent stops vouching for the replica within seconds', async () => {
    const proxy = await startTcpProxy(process.env.DATABASE_URL!);
    const quiet = await boot([{ ttl: '1h', listenUrl: proxy.url }]); // hears revocations through the proxy
    try {
      await serving(quiet.sessions());
      const { session, token } = await sa.create({ userId: 'silent' });
      await replicated(a);
      proxy.hang(); // a NAT or load balancer drops the flow: no FIN, no RST
      for (let i = 0; i < 200 && quiet.sessions().cacheStatus.listener === 'listening'; i++) await sleep(50);
      expect(quiet.sessions().cacheStatus.listener).not.toBe('listening'); // the heartbeat: 5 + 2 s
      await sa.expire(session.id); // its notice never reaches `quiet`; the replica replays it 3 s late
      expect(await quiet.sessions().authenticate(token)).toBeNull(); // read on the primary
    } finally {
      await quiet.close();
      await proxy.close();
    }
  }, 30_000);

  (poolerRuns ? describe : describe.skip)('behind PgBouncer (transaction mode)', () => {
    it('without listenUrl: reads stay on the primary, the cache bypassed, nothing waits; said once at start-up', async () => {
      const lines = new CapturingLogger();
      const p = await createTestApp({
        kinds: [{ ttl: '1h', cache: true }],
        recreate: false,
        logger: lines,
        orm: { clientUrl: throughPooler(), replicas: [{ clientUrl: replicaUrl() }] },
      });
      try {
        for (let i = 0; i < 200 && p.sessions().cacheStatus.listener === 'connecting'; i++) await sleep(10);
        expect(p.sessions().cacheStatus).toMatchObject({ serving: false, listener: 'pooler' });
        const { session, token } = await p.sessions().create({ userId: 'pooled' });
        await replicated(a);
        const from = logSize();
        expect(await p.sessions().authenticate(token)).not.toBeNull();
        await sleep(200);
        expect(replicaLookups(from)).toBe(0);
        const started = performance.now();
        await p.sessions().delete(session);
        expect(performance.now() - started).toBeLessThan(1000);
        expect(lines.lines.filter((l) => /transaction pooler/.test(l))).toHaveLength(1);
      } finally {
        await p.close();
      }
    });

    it('with listenUrl: the cache serves and the replica answers, and revocations still hold at once', async () => {
      const kinds = [{ ttl: '1h', cache: true, listenUrl: process.env.DATABASE_URL }];
      const orm = { clientUrl: throughPooler(), replicas: [{ clientUrl: replicaUrl() }] };
      const p = await createTestApp({ kinds, recreate: false, orm });
      const q = await createTestApp({ kinds, recreate: false, orm });
      try {
        await serving(p.sessions(), q.sessions());
        const { session, token } = await p.sessions().create({ userId: 'listen-url' });
        await replicated(a);
        const from = logSize();
        expect(await q.sessions().authenticate(token, { extend: false })).not.toBeNull();
        await sleep(200);
        expect(replicaLookups(from)).toBe(1);
        expect(await q.sessions().authenticate(token)).not.toBeNull(); // cached now
        await p.sessions().delete(session);
        expect(await q.sessions().authenticate(token)).toBeNull();
      } finally {
        await p.close();
        await q.close();
      }
    });
  });
});
