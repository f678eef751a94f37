/**
 * Runs `fn` as if this process's clock ran `offsetMs` ahead (or behind, when
 * negative): `new Date()` and `Date.now()` are shifted while `fn` runs
 * synchronously, which is when the library takes its `now` for a call. Another
 * app instance in the same process keeps the real clock: two instances whose
 * clocks disagree, as on two machines.
 */
export function withClockOffset<T>(offsetMs: number, fn: () => T): T {
  const restore = skewClock(offsetMs);
  try {
    return fn();
  } finally {
    restore();
  }
}

/**
 * Makes this process's clock run `offsetMs` ahead (or behind) until the
 * returned function is called: a machine whose clock is off, for everything
 * the process does meanwhile.
 */
export function skewClock(offsetMs: number): () => void {
  const Real = Date;
  class Skewed extends Real {
    constructor(...args: unknown[]) {
      if (args.length === 0) super(Real.now() + offsetMs);
      else super(...(args as [string]));
    }
    static override now(): number {
      return Real.now() + offsetMs;
    }
  }
  globalThis.Date = Skewed as DateConstructor;
  return () => {
    globalThis.Date = Real;
  };
}
