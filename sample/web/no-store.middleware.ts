import type { NextFunction, Request, Response } from 'express';

/**
 * `Cache-Control: no-store` on every HTML page: each one is for one browser
 * (its CSRF token, its flash, a user id, which is a credential here) and two
 * show a secret once (a new session token, a new API key), so no cache, shared
 * or the browser's own, may keep a copy.
 */
export function noStoreMiddleware(_req: Request, res: Response, next: NextFunction): void {
  res.setHeader('Cache-Control', 'no-store');
  next();
}
