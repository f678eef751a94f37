import { serialize } from 'cookie';
import type { ResolvedSessionsOptions } from '../options/options.interface';
import { appendHeader, type ResponseLike } from './response';

export type { ResponseLike } from './response';

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
 * The token cookie again, living until the session's new expiry: sent when a
 * sliding extension moved it, so an active browser's cookie does not run out
 * before its session does.
 */
export function refreshedSessionCookie(
  options: ResolvedSessionsOptions['cookie'],
  token: string,
  expiresAt: Date | null,
  /** Now, in the clock `expiresAt` was written by (the database's). */
  nowMs: number,
): string {
  const maxAge = expiresAt === null ? options.maxAge : Math.max(0, Math.ceil((expiresAt.getTime() - nowMs) / 1000));
  return sessionCookie({ ...options, maxAge }, token);
}

/** Adds a `Set-Cookie` header without dropping others, on Express, Fastify or Node's own response. */
export function appendSetCookie(response: ResponseLike, value: string): void {
  if (!appendHeader(response, 'Set-Cookie', value))
    throw new TypeError('setCookie: expected an Express response, a Fastify reply or a Node ServerResponse');
}
