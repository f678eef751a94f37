import { Client, type Notification } from 'pg';
import type { SessionsService } from '../lib';
import type { TestApp } from './support/app';
import { me, twoServingInstances } from './support/instances';
import { onPglite, sql } from './support/database';

/** A role other than the app's, on the same server: it can LISTEN and NOTIFY on any channel. */
const IMPOSTOR = 'ecto_sessions_impostor';
const CHANNEL = 'nestjs_ecto_sessions';
const TABLE = '"sessions"';
const lookups = (t: TestApp) => t.log.matching(/"sessions"/);

/** How long a call takes, in ms. */
const timed = async (call: () => Promise<unknown>) => {
  const started = performance.now();
  await call();
  return performance.now() - started;
};

// Cross-connection notices need a real server (PGlite delivers none: its cache stays bypassed).
(onPglite() ? describe.skip : describe)(
  'revocation notices another database role cannot forge (real PostgreSQL)',
  () => {
    let a: TestApp;
    let b: TestApp;
    let sa: SessionsService;
    let sb: SessionsService;
    let impostor: Client;

    beforeAll(async () => {
      [a, b] = await twoServingInstances([{ ttl: '1h', cache: { ttl: '10m', max: 1000 } }]);
      sa = a.sessions();
      sb = b.sessions();
      await sql(a.orm, `DROP ROLE IF EXISTS ${IMPOSTOR}`).catch(() => undefined);
      await sql(a.orm, `CREATE ROLE ${IMPOSTOR} LOGIN`).catch(() => undefined);
      const url = new URL(process.env.DATABASE_URL!);
      url.username = IMPOSTOR;
      impostor = new Client({ connectionString: url.toString() });
      await impostor.connect();
    });
    afterAll(async () => {
      await impostor?.end().catch(() => undefined);
      await a?.close();
      await b?.close();
      await sql(a.orm, `DROP ROLE IF EXISTS ${IMPOSTOR}`).catch(() => undefined);
    });

    it('a listener impostor of another role is never waited for', async () => {
      const fake = new Client(impostorOptions());
      await fake.connect();
      try {
        await fake.query(`SET application_name = 'nestjs-ecto-sessions:${TABLE.replace(/'/g, "''")}'`);
        await fake.query(`LISTEN ${CHANNEL}`);
        const { session, token } = await sa.create({ userId: 'impostor' });
        expect((await me(b, token)).status).toBe(200); // cached on b
        const took = await timed(() => sa.delete(session));
        expect(took).toBeLessThan(1500); // the acknowledgement wait is 3 s: it was not waited for
        expect((await me(b, token)).status).toBe(401);
      } finally {
        await fake.end();
      }
    });

    it('acknowledgements forged by another role do not end the wait for a real instance', async () => {
      // The impostor hears every revocation and answers it at once, as if it were b;
      // b itself hears late, as a loaded instance might.
      const forge = (message: Notification) => {
        const parsed = JSON.parse(message.payload ?? '{}');
        if (parsed.nonce && !parsed.ack)
          void impostor.query('SELECT pg_notify($1, $2)', [
            CHANNEL,
            JSON.stringify({ table: TABLE, ack: parsed.nonce }),
          ]);
      };
      impostor.on('notification', forge);
      await impostor.query(`LISTEN ${CHANNEL}`);
      const listener = (sb as unknown as { parts: { listener: { receive(message: unknown): Promise<void> } } }).parts
        .listener;
      const receive = listener.receive.bind(listener);
      listener.receive = (message) => new Promise((r) => setTimeout(() => r(receive(message)), 300));
      try {
        const { session, token } = await sa.create({ userId: 'forged' });
        expect((await me(b, token)).status).toBe(200); // cached on b
        await sa.delete(session);
        expect((await me(b, token)).status).toBe(401);
      } finally {
        listener.receive = receive;
        impostor.removeListener('notification', forge);
        await impostor.query(`UNLISTEN ${CHANNEL}`);
      }
    });

    it('a flood of revocation notices from another role leaves the cache serving', async () => {
      const { token } = await sa.create({ userId: 'flood' });
      expect(await sb.authenticate(token)).not.toBeNull(); // cached on b
      b.log.clear();
      const flood = JSON.stringify({ table: TABLE, all: true });
      for (let i = 0; i < 200; i++) {
        await impostor.query('SELECT pg_notify($1, $2)', [CHANNEL, flood]);
        if (i % 20 === 0) await new Promise((r) => setTimeout(r, 5)); // let b hear them
        expect(await sb.authenticate(token)).not.toBeNull();
      }
      expect(lookups(b).length).toBeLessThanOrEqual(1);
    });

    it('a revocation notice from another role is ignored, and one from the app is honoured', async () => {
      const { session, token } = await sa.create({ userId: 'ids' });
      expect(await sb.authenticate(token)).not.toBeNull();
      await impostor.query('SELECT pg_notify($1, $2)', [CHANNEL, JSON.stringify({ table: TABLE, ids: [session.id] })]);
      await new Promise((r) => setTimeout(r, 100));
      b.log.clear();
      expect(await sb.authenticate(token)).not.toBeNull();
      expect(lookups(b)).toHaveLength(0); // still cached
      await sa.delete(session);
      expect(await sb.authenticate(token)).toBeNull();
    });

    it('a revocation with every instance listening returns promptly', async () => {
      const { session } = await sa.create({ userId: 'prompt' });
      expect(await timed(() => sa.delete(session))).toBeLessThan(1500);
    });

    function impostorOptions() {
      const url = new URL(process.env.DATABASE_URL!);
      url.username = IMPOSTOR;
      return { connectionString: url.toString() };
    }
  },
);
