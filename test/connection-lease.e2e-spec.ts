import { MeController } from './support/me.controller';
import { createTestApp, type TestApp } from './support/app';

/** knex's pool (tarn) behind the ORM's connection: how many connections are out. */
function tarnOf(t: TestApp): { numUsed(): number; numPendingAcquires(): number } {
  return (t.orm.em.getConnection() as unknown as { getKnex(): { client: { pool: any } } }).getKnex().client.pool;
}

/**
 * The guard's statements keep a connection of the ORM's pool for the rest of
 * the event-loop turn (`TurnLease`): the ORM must never wait on it, and
 * nothing may stay out of the pool once the turn ends.
 */
describe('connections kept for a turn', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ controllers: [MeController], listen: true, orm: { pool: { min: 0, max: 2 } } });
  });
  afterAll(() => t.close());

  it("a pool of 2 under 40 concurrent guarded requests: every request and every one of the app's own queries and transactions completes, and every connection is back once the turn ends", async () => {
    const { token } = await t.sessions().create({ userId: 'u' });
    const connection = t.orm.em.getConnection();
    const statuses: number[] = [];
    let ormQueries = 0;
    const requests = async () => {
      for (let i = 0; i < 5; i++)
        statuses.push((await fetch(`${t.url}/me`, { headers: { 'x-auth-token': token } })).status);
    };
    const appQueries = async () => {
      for (let i = 0; i < 10; i++) {
        await connection.execute('SELECT 1');
        await connection.transactional(async (trx) => void (await connection.execute('SELECT 1', [], 'all', trx)));
        ormQueries++;
      }
    };
    await Promise.all([...Array.from({ length: 40 }, requests), appQueries(), appQueries()]);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect(statuses).toHaveLength(200);
    expect(ormQueries).toBe(20);
    await new Promise((resolve) => setImmediate(resolve));
    expect(tarnOf(t).numUsed()).toBe(0);
    expect(tarnOf(t).numPendingAcquires()).toBe(0);
  }, 20_000);

  it('a closing app is not held up by a kept connection', async () => {
    const other = await createTestApp({ controllers: [MeController], listen: true, recreate: false });
    const { token } = await other.sessions().create({ userId: 'u' });
    await fetch(`${other.url}/me`, { headers: { 'x-auth-token': token } });
    const started = Date.now();
    await other.close();
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
