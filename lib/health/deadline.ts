/** What a check that did not answer in time reports as its error. */
export const TIMED_OUT = 'timeout';

/**
 * `promise`, or a rejection with `TIMED_OUT` once `ms` pass. A health check must
 * answer quickly even when the database hangs (a probe usually gives up after
 * a few seconds); the statement itself finishes or fails in the background.
 */
export function withinMs<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(TIMED_OUT)), ms);
  });
  promise.catch(() => undefined); // once abandoned, its failure is nobody's to handle
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Why a check failed, short: the driver's error code (`ECONNREFUSED`, `57P01`…)
 * or `timeout`, never the message, which may name hosts and users.
 */
export function failureOf(error: unknown): string {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (message === TIMED_OUT) return TIMED_OUT;
  if (typeof code === 'string' && /^[A-Za-z0-9_]{1,32}$/.test(code)) return code;
  return 'error';
}
