import { parse, serialize } from 'cookie';
import type { Request, Response } from 'express';
import { COOKIE_SECURE } from '../sessions.config';

/** The last user id that logged in here, to prefill the log-in form. */
export const LAST_USER_COOKIE = 'last_user_id';
/** The random id of a one-shot message for the next page, kept on the server (see `flash.ts`). */
export const FLASH_COOKIE = 'flash';
/** The double-submit CSRF token. */
export const CSRF_COOKIE = 'csrf_token';

/** SameSite=Lax: a cross-site POST never carries the sample's cookies. */
const ATTRIBUTES = { httpOnly: true, sameSite: 'lax', secure: COOKIE_SECURE, path: '/' } as const;

export function readCookie(req: Request, name: string): string | undefined {
  return parse(req.headers.cookie ?? '')[name];
}

/** Adds a cookie; `maxAge` in seconds, none = until the browser closes. */
export function writeCookie(res: Response, name: string, value: string, maxAge?: number): void {
  res.append('Set-Cookie', serialize(name, value, { ...ATTRIBUTES, maxAge }));
}

export function clearCookie(res: Response, name: string): void {
  res.append('Set-Cookie', serialize(name, '', { ...ATTRIBUTES, maxAge: 0 }));
}
