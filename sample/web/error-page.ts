import { STATUS_CODES } from 'node:http';
import type { Response } from 'express';

/**
 * An error as an HTML page in the site's layout (`views/error.hbs`), titled by its status ("404 · Not Found").
 * `path` is shown as the address that has no page. Should the view itself fail, a line of plain text.
 */
export function renderError(res: Response, status: number, message: string, path?: string): void {
  const title = STATUS_CODES[status] ?? 'Error';
  res.status(status).render('error', { title, status, message, path }, (error: Error | null, html: string) => {
    if (error) res.type('text/plain').send(`${status} ${title}`);
    else res.send(html);
  });
}
