import { parse as parseCookies } from 'cookie';
import type { TokenSource } from './interfaces/sessions-options.interface';

/** The parts of an Express or Fastify request the extraction reads. */
export interface RequestLike {
  headers: Record<string, string | string[] | undefined>;
}

/**
 * The token a request carries, from the first source (in order) that has one.
 * `undefined` when none does; `''` when one was sent but is empty
 * (`Authorization: Bearer` with nothing after it), which the guard refuses as
 * an invalid token rather than treating as anonymous.
 */
export function extractToken(request: RequestLike, sources: readonly TokenSource[]): string | undefined {
  const headers = request?.headers ?? {};
  let cookies: Record<string, string | undefined> | undefined;
  for (const source of sources) {
    let token: string | undefined;
    if (source.type === 'header') {
      token = single(headers[source.name]);
    } else if (source.type === 'bearer') {
      token = bearer(single(headers.authorization));
    } else {
      // Parsed from the header ourselves, so neither cookie-parser nor @fastify/cookie is needed.
      cookies ??= parseCookieHeader(single(headers.cookie));
      token = cookies[source.name];
    }
    if (token !== undefined && (token !== '' || source.type === 'bearer')) return token;
  }
  return undefined;
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

/** `Bearer <token>` (scheme case-insensitive, RFC 6750); other schemes such as `Basic` are not ours. */
function bearer(authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined;
  const match = /^Bearer(?:[ \t]+(.*)|[ \t]*)$/i.exec(authorization.trim());
  return match ? (match[1] ?? '').trim() : undefined;
}

function parseCookieHeader(header: string | undefined): Record<string, string | undefined> {
  if (!header) return {};
  try {
    return parseCookies(header);
  } catch {
    return {};
  }
}
