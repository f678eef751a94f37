import { serialize } from 'cookie';
import type { ResolvedSessionsOptions } from './interfaces/sessions-options.interface';

/** An Express response or a Fastify reply. */
export type ResponseLike =
  | { append(name: string, value: string): unknown }
  | { header(name: string, value: string): unknown };

/** The `Set-Cookie` value that stores a token, per the kind's `cookie` options. */
export function sessionCookie(options: ResolvedSessionsOptions['cookie'], token: string): string {
  return serialize(options.name, token, {
    httpOnly: options.httpOnly,
    secure: options.secure,
    sameSite: options.sameSite,
    path: options.path,
    domain: options.domain,
    maxAge: options.maxAge,
  });
}

/** The `Set-Cookie` value that makes the browser drop the token cookie. */
export function clearedSessionCookie(options: ResolvedSessionsOptions['cookie']): string {
  return serialize(options.name, '', {
    httpOnly: options.httpOnly,
    secure: options.secure,
    sameSite: options.sameSite,
    path: options.path,
    domain: options.domain,
    maxAge: 0,
    expires: new Date(0),
  });
}

/**
 * Adds a `Set-Cookie` header without dropping others: Express has `append`;
 * Fastify's `reply.header('set-cookie', …)` accumulates by itself.
 */
export function appendSetCookie(response: ResponseLike, value: string): void {
  const r = response as Partial<{ append: (n: string, v: string) => unknown; header: (n: string, v: string) => unknown }>;
  if (typeof r.append === 'function') r.append('Set-Cookie', value);
  else if (typeof r.header === 'function') r.header('set-cookie', value);
  else throw new TypeError('setCookie: expected an Express response or a Fastify reply');
}
