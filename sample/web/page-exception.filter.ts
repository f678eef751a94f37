import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, HttpStatus } from '@nestjs/common';
import type { Request, Response } from 'express';
import { SessionsService } from 'nestjs-ecto-sessions';
import { readCookie } from './cookies';
import { renderError } from './error-page';
import { setFlash } from './flash';
import { redirect } from './redirect';

/**
 * Errors of the HTML pages as pages. A 401 from `@Authenticated()` (no
 * session, or one that expired or was deleted from another device) sends the
 * browser home with a message and drops the dead cookie.
 */
@Catch(HttpException)
export class PageExceptionFilter implements ExceptionFilter {
  constructor(private readonly sessions: SessionsService) {}

  catch(exception: HttpException, host: ArgumentsHost): void {
    const req = host.switchToHttp().getRequest<Request>();
    const res = host.switchToHttp().getResponse<Response>();
    const status = exception.getStatus();
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
