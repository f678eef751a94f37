import { serialize } from 'cookie';
import type { ResolvedSessionsOptions } from '../options/options.interface';

/** An Express response, a Fastify reply, or a bare Node `ServerResponse` (such as `reply.raw`). */
export type ResponseLike =
  | { append(name: string, value: string): unknown }
  | { header(name: string, value: string): unknown }
  | { appendHeader(name: string, value: string): unknown };

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

type Setter = (name: string, value: string) => unknown;

/**
 * Adds a `Set-Cookie` header without dropping others. Express has `append`
 * (its `header` would replace); Fastify has no `append`, but its
 * `reply.header('set-cookie', …)` accumulates by itself; Node's own response
 * has `appendHeader`.
 */
export function appendSetCookie(response: ResponseLike, value: string): void {
  const r = (response ?? {}) as Partial<{ append: Setter; header: Setter; appendHeader: Setter }>;
  if (typeof r.append === 'function') r.append('Set-Cookie', value);
  else if (typeof r.header === 'function') r.header('set-cookie', value);
  else if (typeof r.appendHeader === 'function') r.appendHeader('Set-Cookie', value);
  else throw new TypeError('setCookie: expected an Express response, a Fastify reply or a Node ServerResponse');
}
