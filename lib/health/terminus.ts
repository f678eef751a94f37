import { EctoSessionsError } from '../errors';

/**
 * What `@nestjs/terminus` wants of an indicator, written out here rather than
 * imported: terminus is an optional peer, so the library's types must not
 * name it. Structurally the same as terminus's `HealthIndicatorResult`.
 */
export type HealthIndicatorResult<Key extends string = string, Details extends object = object> = Record<
  Key,
  { status: 'up' | 'down' } & Details
>;

let major: number | null | undefined;

/** The installed `@nestjs/terminus`'s major version, or `null` when it is not installed (it is an optional peer). */
export function terminusMajor(): number | null {
  if (major === undefined) {
    try {
      // Its package.json only, never the package: nothing of terminus loads unless the app loads it.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { version } = require('@nestjs/terminus/package.json') as { version?: unknown };
      const parsed = typeof version === 'string' ? Number.parseInt(version, 10) : NaN;
      major = Number.isFinite(parsed) ? parsed : null;
    } catch {
      major = null;
    }
  }
  return major;
}

/**
 * A failed check, for terminus 10 and older: they count an indicator down only
 * when it throws an error marked `isHealthCheckError` carrying the result as
 * `causes` (their `HealthCheckError` is found by that mark, not by class).
 * Terminus 11 and later read `status: 'down'` from a returned result, and 12
 * no longer knows this error: there the indicator returns instead.
 */
export class SessionsHealthCheckError extends EctoSessionsError {
  readonly isHealthCheckError = true;

  constructor(
    message: string,
    readonly causes: HealthIndicatorResult,
  ) {
    super(message);
  }
}

/** Whether a down result must be thrown rather than returned for the installed terminus. */
export function throwsWhenDown(): boolean {
  const installed = terminusMajor();
  return installed !== null && installed < 11;
}
