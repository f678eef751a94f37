import { DatabaseClock } from './database-clock';
import type { StatementRunner } from './statement-runner';

/** A runner whose database clock reads `dbMs`, or that fails while `failing` says so. */
function runnerAt(dbMs: () => number, failing: () => boolean = () => false) {
  const run = jest.fn(async () => {
    if (failing()) throw new Error('ECONNREFUSED');
    return [{ now: (dbMs() / 1000).toFixed(6) }];
  });
  return { runner: { run } as unknown as StatementRunner, run };
}

describe('DatabaseClock', () => {
  afterEach(() => jest.useRealTimers());

  it("gives the database's time: the instance's clock plus the offset measured", async () => {
    const { runner } = runnerAt(() => Date.now() + 60_000);
    const clock = new DatabaseClock(runner, 'default');
    await clock.start();
    clock.stop();
    expect(Math.abs(clock.nowMs() - (Date.now() + 60_000))).toBeLessThan(50);
    expect(Math.abs(clock.now().getTime() - (Date.now() + 60_000))).toBeLessThan(50);
  });

  it('tries a failed first measurement again within seconds, then every minute', async () => {
    jest.useFakeTimers();
    let down = true;
    const { runner, run } = runnerAt(
      () => Date.now() - 30_000,
      () => down,
    );
    const clock = new DatabaseClock(runner, 'default');
    await clock.start();
    expect(run).toHaveBeenCalledTimes(1);
    expect(Math.abs(clock.nowMs() - Date.now())).toBeLessThan(50); // unmeasured: the instance's own
    down = false;
    await jest.advanceTimersByTimeAsync(1000);
    expect(run).toHaveBeenCalledTimes(2);
    expect(Math.abs(clock.nowMs() - (Date.now() - 30_000))).toBeLessThan(50);
    await jest.advanceTimersByTimeAsync(59_000);
    expect(run).toHaveBeenCalledTimes(2);
    await jest.advanceTimersByTimeAsync(1000);
    expect(run).toHaveBeenCalledTimes(3);
    clock.stop();
  });

  it('stopped while its first measurement is under way, it sets no timer again', async () => {
    jest.useFakeTimers();
    const { runner, run } = runnerAt(() => Date.now());
    const clock = new DatabaseClock(runner, 'default');
    const started = clock.start();
    clock.stop(); // the app closes during start-up
    await started;
    await jest.advanceTimersByTimeAsync(10 * 60_000);
    expect(run).toHaveBeenCalledTimes(1);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('an offset within half the round trip counts as none: the clocks cannot be told apart', async () => {
    const run = jest.fn(async () => {
      const asked = Date.now();
      await new Promise((resolve) => setTimeout(resolve, 100));
      return [{ now: ((asked + 30) / 1000).toFixed(6) }]; // 20 ms before the midpoint, the error up to 50
    });
    const clock = new DatabaseClock({ run } as unknown as StatementRunner, 'default');
    await clock.start();
    clock.stop();
    expect(Math.abs(clock.nowMs() - Date.now())).toBeLessThanOrEqual(1);
  });
});
