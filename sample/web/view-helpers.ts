import hbs from 'hbs';
import ms from 'ms';

/** Template helpers: times in UTC, so every viewer reads the same thing. */
export function registerViewHelpers(): void {
  hbs.registerHelper('date', (value: Date | string | null | undefined) => {
    if (!value) return 'never';
    return new Date(value).toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
  });
  hbs.registerHelper('iso', (value: Date | string | null | undefined) => (value ? new Date(value).toISOString() : ''));
  hbs.registerHelper('short', (id: string) => id.slice(0, 8));
  hbs.registerHelper('duration', (seconds: number) => ms(seconds * 1000, { long: true }));
}
