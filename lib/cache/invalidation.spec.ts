import { CacheInvalidationListener, CACHE_CHANNEL, type ListenerOptions } from './invalidation';

function listener(overrides: Partial<ListenerOptions> = {}) {
  const options: ListenerOptions = {
    orm: {} as ListenerOptions['orm'],
    table: '"sessions"',
    listenUrl: 'postgresql://nobody@127.0.0.1:1/none',
    positions: false,
    onMessage: jest.fn(),
    onListening: jest.fn(),
    ...overrides,
  };
  return { listener: new CacheInvalidationListener(options), options };
}

describe('CacheInvalidationListener', () => {
  it('once stopped, start() does not connect (an app closed while it was starting)', async () => {
    const { listener: l, options } = listener();
    await l.stop();
    await l.start();
    expect(l.state).toBe('connecting');
    expect(options.onListening).not.toHaveBeenCalledWith(true, expect.anything());
  });

  it('a notice it cannot act on (the WAL position unreadable) gives the connection up, never an unhandled rejection', async () => {
    const { listener: l, options } = listener({ positions: true });
    const client = {
      query: jest.fn().mockRejectedValue(new Error('Query read timeout')),
      end: jest.fn().mockResolvedValue(undefined),
      on: jest.fn(),
      removeAllListeners: jest.fn(),
    };
    Object.assign(l as unknown as Record<string, unknown>, { client, ownPid: 7, stateNow: 'listening' });
    const notice = {
      channel: CACHE_CHANNEL,
      processId: 7,
      payload: JSON.stringify({ table: '"sessions"', ids: ['a'] }),
    };
    await expect((l as unknown as { receive(n: unknown): Promise<void> }).receive(notice)).resolves.toBeUndefined();
    expect(l.state).toBe('unreachable'); // the cache empties and reads leave the replicas until it listens again
    expect(options.onListening).toHaveBeenCalledWith(false, undefined);
    await l.stop();
  });
});
