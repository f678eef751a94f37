import type { ExecutionContext } from '@nestjs/common';
import { SESSION_REQUEST_KEY } from '../constants';
import type { Session } from '../store/session.entity';

/** What the guard found for one request: the current session and, on HTTP, each kind's (a second guard run costs nothing). */
interface Found {
  current: Session;
  byKind: Record<string, Session>;
}

/**
 * Keyed by the object that lives as long as the message: the GraphQL context, a
 * WebSocket message's data, a microservice message's payload. With `RECORD`,
 * the only record `@CurrentSession()` reads: an `authSession` on a message is
 * whatever its sender put there.
 */
const found = new WeakMap<object, Found>();

/**
 * An HTTP request's record, on the request itself under a symbol only this
 * module holds (nothing a client sends can carry a symbol key). Not in the
 * WeakMap: an entry per request, keyed by an object that dies with it, is work
 * for the garbage collector on every request. Measured in the bench's cached
 * app (2026-12-01, bench/README.md): a stub guard plus only that WeakMap entry
 * cost +24/+18 µs app CPU a request over the public route, a stub plus only a
 * property on the request -3/-23 µs.
 */
const RECORD = Symbol('nestjs-ecto-sessions.found');

/** The record of a request or message, if the guard made one. */
function recordOf(key: object): Found | undefined {
  return (key as { [RECORD]?: Found })[RECORD] ?? found.get(key);
}

function asObject(value: unknown): object | undefined {
  return typeof value === 'object' && value !== null ? value : undefined;
}

/**
 * The object a request's or message's session is recorded on, one that lives
 * no longer than it: the HTTP request; the GraphQL context; a WebSocket
 * message's data (its client outlives many messages, and only stands in for
 * data that is not an object); a microservice message's payload, else its
 * transport's context.
 */
export function recordKeyOf(context: ExecutionContext): object | undefined {
  const type = context.getType<string>();
  if (type === 'http') return asObject(context.switchToHttp().getRequest());
  if (type === 'graphql') return asObject(context.getArgByIndex(2));
  if (type === 'ws') return asObject(context.getArgByIndex(1)) ?? asObject(context.getArgByIndex(0));
  return asObject(context.getArgByIndex(0)) ?? asObject(context.getArgByIndex(1));
}

/**
 * The session `AuthenticatedGuard` found for this request or message, if any:
 * what `@CurrentSession()` returns. Never read from the request or message
 * itself. On HTTP it is also `request.authSession`.
 */
export function getCurrentSession(context: ExecutionContext): Session | undefined {
  const key = recordKeyOf(context);
  return key ? currentSessionOf(key) : undefined;
}

/** The session the guard found for a request or message, if any. */
export function currentSessionOf(key: object): Session | undefined {
  return recordOf(key)?.current;
}

/** Forgets what was found on a key that may outlive its message (a WebSocket client). */
export function forgetSession(key: object): void {
  found.delete(key);
}

/** The session of this kind already found for this HTTP request, if any. */
export function foundSession(request: object, name: string): Session | undefined {
  return (request as { [RECORD]?: Found })[RECORD]?.byKind[name];
}

/**
 * Records the session of a request or message. An HTTP request remembers it by
 * kind (a route guard after the global one costs nothing) and shows it as
 * `request.authSession` (for interceptors and filters); other keys, each
 * authenticated again, only keep the current one.
 */
export function rememberSession(key: object, http: boolean, name: string, session: Session): void {
  if (!http) {
    found.set(key, { current: session, byKind: {} });
    return;
  }
  const request = key as { [RECORD]?: Found } & Record<string, unknown>;
  const record = request[RECORD];
  if (record) {
    record.current = session;
    record.byKind[name] = session;
  } else request[RECORD] = { current: session, byKind: { [name]: session } };
  request[SESSION_REQUEST_KEY] = session;
}
