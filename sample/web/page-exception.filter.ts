import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, HttpStatus } from '@nestjs/common';
import type { Request, Response } from 'express';
import { SessionsService } from 'nestjs-ecto-sessions';
import { readCookie } from './cookies';
import { renderError } from './error-page';
import { setFlash } from './flash';
import { redirect } from './redirect';
import { formatDuration } from './view-helpers';

/** The actions that need a recent login (`@Authenticated({ maxAge })`), by path, as the page names them. */
const STEP_UP_ACTIONS: Record<string, string> = {
  '/account/sign-out-everywhere': 'Sign out everywhere',
};

/**
 * Errors of the HTML pages as pages. A 401 from `@Authenticated()` (no
 * session, or one that expired or was deleted from another device) sends the
 * browser home with a message and drops the dead cookie. A 401 for a login too
 * old for the action (`maxAge`) keeps the session: a page explains and asks to
 * log in again.
 */
@Catch(HttpException)
export class PageExceptionFilter implements ExceptionFilter {
  constructor(private readonly sessions: SessionsService) {}

  catch(exception: HttpException, host: ArgumentsHost): void {
    const req = host.switchToHttp().getRequest<Request>();
    const res = host.switchToHttp().getResponse<Response>();
    const status = exception.getStatus();
    const maxAge = stepUpMaxAge(exception);
    if (maxAge !== undefined) {
      // The session is still good for everything else: its cookie stays; the guard has set `WWW-Authenticate`.
      const view = {
        title: 'Log in again',
        action: STEP_UP_ACTIONS[req.path] ?? 'This action',
        maxAge: formatDuration(maxAge),
      };
      res.status(status).render('reauthenticate', view, (error: Error | null, html: string) => {
        if (error) res.type('text/plain').send(`${status} Log in again`);
        else res.send(html);
      });
      return;
    }
    if (status === HttpStatus.UNAUTHORIZED) {
      const hadSession = readCookie(req, this.sessions.options.cookie.name) !== undefined;
      this.sessions.clearCookie(res);
      // Both are refusals, shown as the flash for errors; neither is a success.
      setFlash(res, {
        type: 'error',
        message: hadSession
          ? 'Your session has ended: it expired, or was signed out from another device. Log in again.'
          : 'Sign up or log in first.',
      });
      return redirect(res, '/');
    }
    renderError(res, status, exception.message);
  }
}

/** The `maxAge` (seconds) of a step-up refusal (RFC 9470's `insufficient_user_authentication`), else `undefined`. */
function stepUpMaxAge(exception: HttpException): number | undefined {
  const body = exception.getResponse() as { error?: unknown; maxAge?: unknown };
  if (exception.getStatus() !== HttpStatus.UNAUTHORIZED || body?.error !== 'insufficient_user_authentication') {
    return undefined;
  }
  return typeof body.maxAge === 'number' ? body.maxAge : 0;
}
