import type { Response } from 'express';

/** 303 See Other: after a form POST, the browser follows with a GET (post/redirect/get). */
export function redirect(res: Response, url: string): void {
  res.redirect(303, url);
}
