import { IsolationLevel } from '@mikro-orm/core';
import type { SessionsService } from '../lib';
import type { TestApp } from './support/app';
import { me, twoServingInstances } from './support/instances';
import { onPglite } from './support/database';
import { notePoolerSkipped, poolerRuns, throughPooler } from './support/pooler';

/** A promise and the function that settles it. */
function signal(): { promise: Promise<void>; fire: () => void } {
  let fire!: () => void;
  const promise = new Promise<void>((resolve) => (fire = resolve));
  return { promise, fire };
}

notePoolerSkipped('test/cache-transactions (PgBouncer part)');

/** Connected directly, or through PgBouncer with the listener on the server itself (`listenUrl`). */
const connections: Array<[string, boolean]> = [
  ['directly', false],
  ...(poolerRuns ? [['through PgBouncer', true] satisfies [string, boolean]] : []),
];

// The cache serves only where notices are delivered: a real server (PGlite delivers none).
(onPglite() ? describe.skip : describe).each(connections)(
  'the cache never keeps what a caller transaction read (real PostgreSQL, connected %s)',
  (_, pooled) => {
    let a: TestApp;
    let b: TestApp;
    let sa: SessionsService;
    let sb: SessionsService;

    beforeAll(async () => {
      [a, b] = pooled
        ? await twoServingInstances(
            [{ ttl: '1h', cache: { ttl: '1m', max: 100 }, listenUrl: process.env.DATABASE_URL }],
            {
              clientUrl: throughPooler(),
            },
          )
        : await twoServingInstances([{ ttl: '1h', cache: { ttl: '1m', max: 100 } }]);
      sa = a.sessions();
      sb = b.sessions();
    });
    afterAll(async () => {
      await a?.close();
      await b?.close();
    });

    it('a REPEATABLE READ snapshot taken before a revocation does not put the session back', async () => {
      const { session, token } = await sa.create({ userId: 'snapshot' });
      expect((await me(b, token)).status).toBe(200); // cached on b
      const taken = signal();
      const gate = signal();
      // Work on b in a transaction whose snapshot predates the revocation.
      const work = b.orm.em.transactional(
        async (em) => {
          await em.getConnection().execute('SELECT 1', [], 'all', em.getTransactionContext());
          taken.fire();
          await gate.promise;
          return sb.authenticate(token); // the old snapshot still shows the row: the caller's choice
        },
        { isolationLevel: IsolationLevel.REPEATABLE_READ },
      );
      await taken.promise;
      expect(await sa.delete(session)).toBe(true);
      expect((await me(b, token)).status).toBe(401);
      gate.fire();
      await work;
      expect((await me(b, token)).status).toBe(401);
      expect(await sb.authenticate(token)).toBeNull();
    });

    it('a change a transaction rolls back is never served from the cache', async () => {
      const { session, token } = await sb.create({ userId: 'rollback', data: { plan: 'free' } });
      await expect(
        b.orm.em.transactional(async () => {
          await sb.update(session, { data: { plan: 'paid' } });
          expect((await sb.authenticate(token))?.data).toEqual({ plan: 'paid' }); // its own write, uncommitted
          throw new Error('rolled back');
        }),
      ).rejects.toThrow('rolled back');
      expect((await sb.authenticate(token))?.data).toEqual({ plan: 'free' });
      expect(await (await me(b, token)).json()).toMatchObject({ data: { plan: 'free' } });
    });

    it('an extension a transaction rolls back leaves the cached expiry as the database has it', async () => {
      const { session, token } = await sb.create({ userId: 'slide' });
      expect((await me(b, token)).status).toBe(200); // cached on b
      await new Promise((r) => setTimeout(r, 1100)); // so that extend() moves the expiry by a second or more
      await expect(
        b.orm.em.transactional(async () => {
          await sb.extend(session);
          throw new Error('rolled back');
        }),
      ).rejects.toThrow('rolled back');
      const stored = await sb.findOne({ id: session.id });
      expect((await sb.authenticate(token, { extend: false }))?.expiresAt).toEqual(stored?.expiresAt);
    });
  },
);
