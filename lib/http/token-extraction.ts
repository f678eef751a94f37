import { parse as parseCookies } from 'cookie';
import type { TokenSource } from '../options/options.interface';

/** The parts of an Express or Fastify request the extraction reads. */
export interface RequestLike {
  headers: Record<string, string | string[] | undefined>;
}

/**
 * The token a request carries, from the first source (in order) that has one;
 * `undefined` when none does. That source decides: a bad token there is not
 * passed over for a later one. Another `Authorization` scheme (`Basic`) counts
 * as no token. `''` when a bearer token was announced but is empty
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
      cookies ??= parseCookieHeader(single(headers.cookie, '; '));
      token = unquote(cookies[source.name]);
    }
    if (token !== undefined && (token !== '' || source.type === 'bearer')) return token;
  }
  return undefined;
}

/**
 * One value for a header that arrived several times, joined the way Node joins
 * it: `, ` for most (so two tokens make a malformed one, refused), `; ` for
 * cookies (so each stays a cookie).
 */
function single(value: string | string[] | undefined, separator = ', '): string | undefined {
  return Array.isArray(value) ? value.join(separator) : value;
}

/** `Bearer <token>` (scheme case-insensitive, RFC 6750); other schemes such as `Basic` are not ours. */
function bearer(authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined;
  const match = /^Bearer(?:[ \t]+(.*)|[ \t]*)$/i.exec(authorization.trim());
  return match ? (match[1] ?? '').trim() : undefined;
}

/** RFC 6265 allows a cookie value in double quotes; `cookie` keeps them, cookie-parser drops them: so do we. */
function unquote(value: string | undefined): string | undefined {
  return value !== undefined && value.length >= 2 && value.startsWith('"') && value.endsWith('"')
    ? value.slice(1, -1)
    : value;
}

function parseCookieHeader(header: string | undefined): Record<string, string | undefined> {
  if (!header) return {};
  try {
    return parseCookies(header);
  } catch {
    return {};
  }
}
