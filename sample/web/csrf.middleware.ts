import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { CSRF_COOKIE, readCookie, writeCookie } from './cookies';
import { renderError } from './error-page';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

/**
 * Double-submit CSRF protection for the HTML forms: a random token in a
 * cookie, copied into each form as the hidden field `_csrf`. Another site can
 * make a browser POST here but cannot read the cookie to fill in the field;
 * SameSite=Lax on every cookie is the second line. It also guards the log-in
 * forms, where there is no session yet to keep a token in.
 */
export function csrfMiddleware(req: Request, res: Response, next: NextFunction): void {
  const raw = readCookie(req, CSRF_COOKIE);
  const cookie = raw !== undefined && TOKEN.test(raw) ? raw : undefined;
  const token = cookie ?? randomBytes(32).toString('base64url');
  if (token !== cookie) writeCookie(res, CSRF_COOKIE, token);
  res.locals.csrfToken = token;
  if (SAFE_METHODS.has(req.method) || matches(cookie, req.body?._csrf)) return next();
  renderError(
    res,
    403,
    'The form was stale or came from another site (CSRF check failed). Reload the page and try again.',
  );
}

function matches(cookie: string | undefined, sent: unknown): boolean {
  if (cookie === undefined || typeof sent !== 'string') return false;
  const a = Buffer.from(sent);
  const b = Buffer.from(cookie);
  return a.length === b.length && timingSafeEqual(a, b);
}
