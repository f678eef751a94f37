import { errorCode, withinMs as within } from '../deadline';

/** What a check that did not answer in time reports as its error. */
export const TIMED_OUT = 'timeout';

/**
 * `promise`, or a rejection with `TIMED_OUT` once `ms` pass. A health check must
 * answer quickly even when the database hangs (a probe usually gives up after
 * a few seconds).
 */
export function withinMs<T>(promise: Promise<T>, ms: number): Promise<T> {
  return within(promise, ms, () => new Error(TIMED_OUT));
}

/**
 * Why a check failed, short: the driver's error code (`ECONNREFUSED`, `57P01`…)
 * or `timeout`, never the message, which may name hosts and users.
 */
export function failureOf(error: unknown): string {
  if ((error as { message?: unknown })?.message === TIMED_OUT) return TIMED_OUT;
  return errorCode(error) ?? 'error';
}
