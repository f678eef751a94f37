import { describeValue } from '../store/values';
import { parseDuration } from './duration';
import { type Fail, onlyKeys } from './resolve-parts';
import type { ResolvedSessionsOptions } from './options.interface';

const ON_LIMIT = new Set(['expireOldest', 'refuse']);

/** Seconds of a duration option, or the option's error. */
function seconds(value: unknown, option: string, fail: Fail, above0: boolean): number {
  const parsed = parseDuration(value);
  if (parsed === undefined || (above0 && parsed === 0)) {
    fail(option, `must be a duration ${above0 ? 'above 0' : '>= 0'} such as '1m' or 30, got ${describeValue(value)}`);
  }
  return parsed!;
}

export function resolveRotation(rotation: unknown, fail: Fail): ResolvedSessionsOptions['rotation'] {
  if (rotation === undefined || rotation === null) return null;
  if (typeof rotation !== 'object' || Array.isArray(rotation))
    fail('rotation', "must be { grace, every? }, e.g. { grace: '1m' }");
  const given = rotation as { grace?: unknown; every?: unknown };
  onlyKeys(given, ['grace', 'every'], 'rotation', fail);
  if (given.grace === undefined)
    fail('rotation.grace', "is required: how long a replaced token still works, e.g. '1m' (0 for not at all)");
  const grace = seconds(given.grace, 'rotation.grace', fail, false);
  const every =
    given.every === undefined || given.every === null ? null : seconds(given.every, 'rotation.every', fail, true);
  return { grace, every };
}

export function resolveTrackLastUsed(value: unknown, fail: Fail): number | null {
  if (value === undefined || value === null) return null;
  return seconds(value, 'trackLastUsed', fail, true);
}

export function resolveMaxPerUser(
  value: unknown,
  columns: ResolvedSessionsOptions['columns'],
  fail: Fail,
): ResolvedSessionsOptions['maxPerUser'] {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) fail('maxPerUser', 'must be { max, onLimit?, column? }');
  const given = value as { max?: unknown; onLimit?: unknown; column?: unknown };
  onlyKeys(given, ['max', 'onLimit', 'column'], 'maxPerUser', fail);
  const { max, onLimit = 'expireOldest', column = 'userId' } = given;
  if (!Number.isInteger(max) || (max as number) < 1 || (max as number) > 1_000_000)
    fail('maxPerUser.max', `must be a whole number from 1 to 1000000, got ${describeValue(max)}`);
  if (!ON_LIMIT.has(onLimit as string))
    fail('maxPerUser.onLimit', `must be 'expireOldest' or 'refuse', got ${describeValue(onLimit)}`);
  if (typeof column !== 'string' || !(column in columns)) {
    fail(
      'maxPerUser.column',
      `must name one of the kind's columns (${Object.keys(columns).join(', ') || 'none'}), got ${describeValue(column)}`,
    );
  }
  if (columns[column as string].type === 'json') fail('maxPerUser.column', 'cannot be a JSON column');
  return { max: max as number, onLimit: onLimit as 'expireOldest' | 'refuse', column: column as string };
}
