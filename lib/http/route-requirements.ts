import { ForbiddenException, UnauthorizedException } from '@nestjs/common';
import { parseDuration } from '../options/duration';
import type { Session } from '../store/session.entity';
import { checkScopes, describeValue } from '../store/values';
import type { AuthenticatedOptions } from './authenticated-options.interface';

/** What a route asks of a valid session beyond its validity, from `@Authenticated({ maxAge, scopes })`. */
export interface RouteRequirements {
  /** Seconds since the login (`insertedAt`), or `null`. */
  maxAge: number | null;
  /** Scopes the session must all have (`'*'` has every one). */
  scopes: string[];
}

/** A route's unmet requirement: the exception and the `WWW-Authenticate` challenge that goes with it. */
export interface Refusal {
  challenge: string;
  exception: UnauthorizedException | ForbiddenException;
}

/**
 * A route's requirements, checked once (by the decorator, at start-up), or
 * `null` when it has none.
 */
export function routeRequirements(options: AuthenticatedOptions): RouteRequirements | null {
  const { maxAge, scopes } = options;
  if (maxAge === undefined && scopes === undefined) return null;
  let seconds: number | null = null;
  if (maxAge !== undefined) {
    seconds = parseDuration(maxAge) ?? NaN;
    if (!(seconds > 0)) {
      throw new TypeError(
        `@Authenticated(): maxAge must be a duration above 0 such as '5m' or 300, got ${describeValue(maxAge)}`,
      );
    }
  }
  return {
    // Whole seconds, as max_age is (RFC 9470); at least 1: floored to 0, every login, however fresh, was too old.
    maxAge: seconds === null ? null : Math.max(1, Math.floor(seconds)),
    scopes: scopes === undefined ? [] : checkScopes('@Authenticated()', scopes),
  };
}

/**
 * Why a valid session may not use this route, or `undefined` when it may:
 * a login older than `maxAge` (401, RFC 9470: log in again; the session stays
 * valid elsewhere), then a missing scope (403, RFC 6750 §3.1).
 */
export function unmet(requirements: RouteRequirements, session: Session, now: number): Refusal | undefined {
  const { maxAge, scopes } = requirements;
  if (maxAge !== null && now - session.insertedAt.getTime() > maxAge * 1000) {
    return {
      challenge: `Bearer error="insufficient_user_authentication", max_age="${maxAge}"`,
      exception: new UnauthorizedException({
        statusCode: 401,
        error: 'insufficient_user_authentication',
        message: `This needs a login less than ${maxAge} s old: sign in again`,
        maxAge,
      }),
    };
  }
  if (scopes.length === 0) return undefined;
  // Only a list grants anything: a JSON string written outside the library would match as a substring ('x*' has '*').
  const granted = Array.isArray(session.scopes) ? session.scopes : [];
  if (granted.includes('*') || scopes.every((scope) => granted.includes(scope))) return undefined;
  const list = scopes.join(' ');
  return {
    challenge: `Bearer error="insufficient_scope", scope="${list}"`,
    exception: new ForbiddenException({
      statusCode: 403,
      error: 'insufficient_scope',
      message: `This needs the scope${scopes.length > 1 ? 's' : ''} ${list}`,
      scopes,
    }),
  };
}
