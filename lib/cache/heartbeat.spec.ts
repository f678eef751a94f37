import { Heartbeat, HEARTBEAT_MS, HEARTBEAT_TIMEOUT_MS } from './heartbeat';

describe('Heartbeat', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  const flush = () => jest.advanceTimersByTimeAsync(0);

  it('pings every interval while the connection answers', async () => {
    const heartbeat = new Heartbeat();
    const ping = jest.fn().mockResolvedValue(undefined);
    const silent = jest.fn();
    heartbeat.start(ping, silent);
    await jest.advanceTimersByTimeAsync(HEARTBEAT_MS * 3);
    expect(ping).toHaveBeenCalledTimes(3);
    expect(silent).not.toHaveBeenCalled();
    heartbeat.stop();
  });

  it('gives the connection up when a ping never answers', async () => {
    const heartbeat = new Heartbeat();
    const silent = jest.fn();
    heartbeat.start(() => new Promise(() => undefined), silent);
    await jest.advanceTimersByTimeAsync(HEARTBEAT_MS + HEARTBEAT_TIMEOUT_MS - 1);
    expect(silent).not.toHaveBeenCalled();
    await jest.advanceTimersByTimeAsync(1);
    expect(silent).toHaveBeenCalledTimes(1);
  });

  it('gives the connection up when a ping fails', async () => {
    const heartbeat = new Heartbeat();
    const silent = jest.fn();
    heartbeat.start(() => Promise.reject(new Error('Connection terminated')), silent);
    await jest.advanceTimersByTimeAsync(HEARTBEAT_MS);
    await flush();
    expect(silent).toHaveBeenCalledTimes(1);
  });

  it('says nothing once stopped, even about a ping in flight', async () => {
    const heartbeat = new Heartbeat();
    const silent = jest.fn();
    heartbeat.start(() => new Promise(() => undefined), silent);
    await jest.advanceTimersByTimeAsync(HEARTBEAT_MS);
    heartbeat.stop();
    await jest.advanceTimersByTimeAsync(HEARTBEAT_TIMEOUT_MS * 2);
    expect(silent).not.toHaveBeenCalled();
  });

  it('started again while an earlier ping is in flight, one loop beats, not two', async () => {
    const heartbeat = new Heartbeat();
    let answerOld!: () => void;
    const oldPing = jest.fn(() => new Promise<void>((resolve) => (answerOld = resolve)));
    heartbeat.start(oldPing, jest.fn());
    await jest.advanceTimersByTimeAsync(HEARTBEAT_MS); // the old loop's ping is in flight
    heartbeat.stop();
    const ping = jest.fn().mockResolvedValue(undefined);
    heartbeat.start(ping, jest.fn()); // a reconnection
    answerOld(); // the old ping answers late
    await flush();
    await jest.advanceTimersByTimeAsync(HEARTBEAT_MS * 2);
    expect(ping).toHaveBeenCalledTimes(2);
    expect(oldPing).toHaveBeenCalledTimes(1); // the old loop ended with its late answer
    heartbeat.stop();
    expect(jest.getTimerCount()).toBe(0);
  });
});
