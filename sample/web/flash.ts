import { randomBytes } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { LRUCache } from 'lru-cache';
import type { Session } from 'nestjs-ecto-sessions';
import { clearCookie, FLASH_COOKIE, readCookie, writeCookie } from './cookies';

/** Seconds a flash waits for the page a redirect leads to. */
const FLASH_LIFE = 60;

/** A message shown once, on the page a redirect leads to. */
export interface Flash {
  type: 'info' | 'error';
  message: string;
  /** A secret that exists in plaintext only now, for the next page to show once. */
  secret?: FlashSecret;
}

/**
 * A new session's token (`kind: 'session'`) or a new API key (`kind:
 * 'apiKey'`). `sessionId` is the browser session it is for: the new session
 * itself after a login, the creating one for a key. A page shows the secret
 * only within that session, so another browser's flash shows no secret here,
 * even with its CSRF cookie planted too.
 */
export interface FlashSecret {
  kind: 'session' | 'apiKey';
  sessionId: string;
  token: string;
  /** An API key's name. */
  name?: string;
  /** An API key's scopes. */
  scopes?: string[];
}

/**
 * Flashes live in this process's memory; the cookie holds only a random id.
 * The cookie is client-writable, and a flash may carry a secret, so what a page
 * reveals must come from the server. Memory is the simplest sound place: a
 * signed cookie would still carry the secret and could be replayed into another
 * browser; a session's `data` would put a plaintext token in the database and
 * does not exist for messages after a sign-out. Bounded and short-lived, so a
 * flood of flashes costs memory only up to `max` (and pushes out the oldest).
 * Several instances behind a load balancer would need a shared store instead.
 *
 * Each flash also remembers the browser it is for, by its CSRF token (set by
 * `csrfMiddleware`, which runs first): an id copied into another browser shows nothing there.
 */
const flashes = new LRUCache<string, { flash: Flash; browser: string | undefined }>({
  max: 10_000,
  ttl: FLASH_LIFE * 1000,
});

export function setFlash(res: Response, flash: Flash): void {
  const id = randomBytes(32).toString('base64url');
  flashes.set(id, { flash, browser: res.locals.csrfToken as string | undefined });
  writeCookie(res, FLASH_COOKIE, id, FLASH_LIFE);
}

/** Moves the flash of a GET into `res.locals.flash` (templates read it), once, and drops the cookie. */
export function flashMiddleware(req: Request, res: Response, next: NextFunction): void {
  const id = req.method === 'GET' ? readCookie(req, FLASH_COOKIE) : undefined;
  if (id !== undefined) {
    clearCookie(res, FLASH_COOKIE);
    const stored = flashes.get(id);
    flashes.delete(id);
    if (stored?.browser !== undefined && stored.browser === res.locals.csrfToken) res.locals.flash = stored.flash;
  }
  next();
}

/** The flash's secret of this kind, if it was made for this session; otherwise nothing. */
export function flashSecret(res: Response, kind: FlashSecret['kind'], current: Session): FlashSecret | undefined {
  const secret = (res.locals.flash as Flash | undefined)?.secret;
  return secret?.kind === kind && secret.sessionId === current.id ? secret : undefined;
}
