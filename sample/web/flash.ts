import type { NextFunction, Request, Response } from 'express';
import { clearCookie, FLASH_COOKIE, readCookie, writeCookie } from './cookies';

/** A message shown once, on the page a redirect leads to. */
export interface Flash {
  type: 'info' | 'error';
  message: string;
  /** Set right after a login: the account page shows the new token this once. */
  revealToken?: boolean;
  /**
   * A key just created, for the API keys page to show this once. It rides in
   * this short-lived HttpOnly cookie rather than in the POST's response, so a
   * reload of the page does not submit the form again.
   */
  apiKey?: { name: string; token: string };
}

export function setFlash(res: Response, flash: Flash): void {
  writeCookie(res, FLASH_COOKIE, JSON.stringify(flash), 60);
}

/** Moves the flash cookie of a GET into `res.locals.flash` (templates read it) and drops the cookie. */
export function flashMiddleware(req: Request, res: Response, next: NextFunction): void {
  const raw = req.method === 'GET' ? readCookie(req, FLASH_COOKIE) : undefined;
  if (raw !== undefined) {
    clearCookie(res, FLASH_COOKIE);
    res.locals.flash = parseFlash(raw);
  }
  next();
}

/** The cookie comes back from the browser: keep only a well-formed flash. */
function parseFlash(raw: string): Flash | undefined {
  try {
    const value = JSON.parse(raw);
    if ((value?.type === 'info' || value?.type === 'error') && typeof value.message === 'string') {
      const key = value.apiKey;
      const apiKey =
        typeof key?.name === 'string' && typeof key?.token === 'string'
          ? { name: key.name, token: key.token }
          : undefined;
      return { type: value.type, message: value.message, revealToken: value.revealToken === true, apiKey };
    }
  } catch {
    // a mangled cookie is no message
  }
  return undefined;
}
