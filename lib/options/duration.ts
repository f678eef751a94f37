import ms from 'ms';

/**
 * Seconds from a number of seconds or a duration string (`'7d'`, `'12h'`, `'90s'`,
 * or digits meaning seconds). `undefined` for anything else, so the caller can
 * name the option in its error.
 */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === 'number') {
    return Number.isFinite(value) && value >= 0 ? value : undefined;
  }
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  // ms() reads bare digits as milliseconds; here every plain number means seconds.
  if (/^\s*\d+(\.\d+)?\s*$/.test(value)) return Number(value);
  const millis = ms(value as ms.StringValue);
  return typeof millis === 'number' && Number.isFinite(millis) && millis >= 0 ? millis / 1000 : undefined;
}
