import { setImmediate as nextTurn } from 'node:timers/promises';
import { type KnexPool, type Leasable, TurnLease } from './turn-lease';

interface Connection extends Leasable {
  n: number;
}

/** knex's pool as the lease sees it: connections handed out, given back, and how many wait. */
function fakePool(options: { waiting?: () => number } = {}) {
  let made = 0;
  const released: Connection[] = [];
  const listeners = new Map<string, () => void>();
  const pool: KnexPool<Connection> = {
    acquireConnection: () => {
      listeners.get('acquireRequest')?.(); // tarn tells its listeners first, synchronously
      return Promise.resolve({ n: ++made });
    },
    releaseConnection: (connection) => {
      released.push(connection);
      return Promise.resolve();
    },
    pool:
      'waiting' in options
        ? { numPendingAcquires: options.waiting, on: (event, listener) => void listeners.set(event, listener) }
        : {},
  };
  /** What tarn does when the ORM (or anyone) asks it for a connection. */
  const ormAsks = () => listeners.get('acquireRequest')?.();
  return { pool, released, made: () => made, ormAsks, emit: (event: string) => listeners.get(event)?.() };
}

/** A pool nobody waits on, and its lease. */
function idlePool() {
  const fake = fakePool({ waiting: () => 0 });
  return { ...fake, lease: TurnLease.of(fake.pool) };
}

function take(lease: TurnLease<Connection>): Promise<Connection> {
  return new Promise((resolve, reject) => lease.take(resolve, reject));
}

describe('TurnLease', () => {
  it('serves the next statement of the same turn with the connection just given back, and gives it back at the end of the turn', async () => {
    const { lease, released, made } = idlePool();
    const first = await take(lease);
    lease.giveBack(first, false);
    const second = await take(lease);
    expect(second).toBe(first);
    lease.giveBack(second, false);
    expect(released).toEqual([]);
    await nextTurn();
    expect(released).toEqual([first]);
    expect(made()).toBe(1);
    expect(await take(lease)).not.toBe(first); // the next turn asks the pool again
  });

  it("gives back at the end of the turn under an app's fake timers too", async () => {
    jest.useFakeTimers();
    try {
      const { lease, released } = idlePool();
      const connection = await take(lease);
      lease.giveBack(connection, false);
      await nextTurn();
      expect(released).toEqual([connection]);
    } finally {
      jest.useRealTimers();
    }
  });

  it('gives a connection back at once when anyone waits on the pool (the ORM is never kept waiting for a turn)', async () => {
    let waiting = 1;
    const { pool, released } = fakePool({ waiting: () => waiting });
    const lease = TurnLease.of(pool);
    const connection = await take(lease);
    lease.giveBack(connection, false);
    expect(released).toEqual([connection]);
    waiting = 0;
    const next = await take(lease);
    lease.giveBack(next, false);
    expect(released).toEqual([connection]);
  });

  it('gives kept connections back the moment anyone asks the pool for one, before it queues the request', async () => {
    const { lease, released, ormAsks } = idlePool();
    const connection = await take(lease);
    lease.giveBack(connection, false);
    expect(released).toEqual([]);
    ormAsks();
    expect(released).toEqual([connection]);
    await nextTurn();
    expect(released).toEqual([connection]); // not twice
  });

  it('gives kept connections back when the pool is being destroyed', async () => {
    const { lease, released, emit } = idlePool();
    const connection = await take(lease);
    lease.giveBack(connection, false);
    emit('poolDestroyRequest');
    expect(released).toEqual([connection]);
  });

  it('is one per pool, so every kind and replica reading through a pool shares it', () => {
    const { pool } = fakePool({ waiting: () => 0 });
    expect(TurnLease.of(pool)).toBe(TurnLease.of(pool));
    expect(TurnLease.of(fakePool({ waiting: () => 0 }).pool)).not.toBe(TurnLease.of(pool));
  });

  it('never hands out a kept connection that broke meanwhile: it goes back to the pool, and the next one is used', async () => {
    const { lease, released } = idlePool();
    const [a, b] = [await take(lease), await take(lease)];
    lease.giveBack(a, false);
    lease.giveBack(b, false);
    b.__knex__disposed = 'Connection ended unexpectedly';
    expect(await take(lease)).toBe(a);
    expect(released).toEqual([b]);
  });

  it('keeps no connection left inside a transaction', async () => {
    const { lease, released } = idlePool();
    const connection = Object.assign(await take(lease), { getTransactionStatus: () => 'T' });
    lease.giveBack(connection, false);
    expect(released).toEqual([connection]);
  });

  it('a statement that throws on a kept connection gives it back and fails', async () => {
    const { lease, released } = idlePool();
    const connection = await take(lease);
    lease.giveBack(connection, false);
    const failures: Error[] = [];
    lease.take(
      () => {
        throw new Error('cannot take a query');
      },
      (error) => failures.push(error),
    );
    expect(failures.map((e) => e.message)).toEqual(['cannot take a query']);
    expect(released).toEqual([connection]);
  });

  it('a statement that throws on a connection fresh from the pool gives it back and fails', async () => {
    const { lease, released } = idlePool();
    const failure = await new Promise<Error>((resolve) =>
      lease.take(() => {
        throw new Error('cannot take a query');
      }, resolve),
    );
    expect(failure.message).toBe('cannot take a query');
    expect(released).toHaveLength(1);
  });

  it('gives back at once a connection whose statement failed, or that knex marked broken, so the pool checks it', async () => {
    const { lease, released } = idlePool();
    const failed = await take(lease);
    lease.giveBack(failed, true);
    const broken = await take(lease);
    broken.__knex__disposed = 'Connection ended unexpectedly';
    lease.giveBack(broken, false);
    expect(released).toEqual([failed, broken]);
    expect(await take(lease)).not.toBe(broken);
  });

  it('keeps nothing when the pool cannot say whether anyone waits', async () => {
    const { pool, released } = fakePool();
    const lease = TurnLease.of(pool);
    const connection = await take(lease);
    lease.giveBack(connection, false);
    expect(released).toEqual([connection]);
  });

  it("passes the pool's failure to acquire on", async () => {
    const { pool } = fakePool({ waiting: () => 0 });
    pool.acquireConnection = () => Promise.reject(new Error('pool destroyed'));
    await expect(take(TurnLease.of(pool))).rejects.toThrow('pool destroyed');
  });

  it('a release that throws (a pool already destroyed) fails nothing', async () => {
    const { pool } = fakePool({ waiting: () => 0 });
    pool.releaseConnection = () => {
      throw new Error('destroyed');
    };
    const lease = TurnLease.of(pool);
    lease.giveBack(await take(lease), false);
    expect(() => lease.flush()).not.toThrow();
  });
});
