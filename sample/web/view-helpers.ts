import hbs from 'hbs';
import ms from 'ms';

/** A time as the pages show it: to the minute, in UTC, so every viewer reads the same thing. */
export function formatDate(value: Date | string | null | undefined): string {
  if (!value) return 'never';
  return new Date(value).toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
}

/** Seconds in words: 300 → "5 minutes". */
export function formatDuration(seconds: number): string {
  return ms(seconds * 1000, { long: true });
}

/** Template helpers: times in UTC, so every viewer reads the same thing. */
export function registerViewHelpers(): void {
  hbs.registerHelper('date', formatDate);
  hbs.registerHelper('iso', (value: Date | string | null | undefined) => (value ? new Date(value).toISOString() : ''));
  hbs.registerHelper('short', (id: string) => id.slice(0, 8));
  hbs.registerHelper('duration', formatDuration);
}
