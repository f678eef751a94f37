import type { ExecutionContext } from '@nestjs/common';
import { SESSION_REQUEST_KEY } from '../constants';
import type { Session } from '../store/session.entity';

/**
 * Keyed by the object that lives as long as the message: a GraphQL field's
 * `info`, a WebSocket message's data, a microservice message's payload. With `RECORD`,
 * the only record `@CurrentSession()` reads: an `authSession` on a message is
 * whatever its sender put there.
 */
const found = new WeakMap<object, Session>();

/**
 * An HTTP request's session, on the request itself under a symbol only this
 * module holds (nothing a client sends can carry a symbol key). Not in the
 * WeakMap: an entry per request, keyed by an object that dies with it, is work
 * for the garbage collector on every request. Measured with callgrind in the
 * bench's cached app (2026-12-01, bench/README.md): about 835 k instructions a
 * request with the property, 845 to 852 k with the WeakMap.
 */
const RECORD = Symbol('nestjs-ecto-sessions.found');

/**
 * Each kind's session found by the guards of one route run, on the
 * `ExecutionContext` Nest hands all of them (`GuardsConsumer.tryActivate` makes
 * one per request): a route guard after the global one costs nothing. Not on
 * the request: Express 5 gives every request its own hidden class, so each
 * read of a property a request does not have walks its prototype chain in V8's
 * runtime; the context's class is one for all requests. Callgrind, bench's
 * cached app: 834 k instructions a request before, 825 k after (means of five
 * windows each; windows spread ±2 %). A list of one entry a kind, not a `Map`:
 * a route has one kind, and a `Map` a request is a hash table to allocate.
 */
const BY_KIND = Symbol('nestjs-ecto-sessions.by-kind');

interface Found {
  name: string;
  session: Session;
  next: Found | undefined;
}

function asObject(value: unknown): object | undefined {
  return typeof value === 'object' && value !== null ? value : undefined;
}

/**
 * The object a request's or message's session is recorded on, one that lives
 * no longer than it: the HTTP request; a GraphQL field's `info` (the context
 * is shared by every field of an operation, each guarded for its own kind,
 * and only stands in when `info` is not an object); a WebSocket message's
 * data, only when it is an object: nothing else Nest hands the guard and the
 * handler is the message's own (the client outlives many messages, which may
 * interleave), so a message whose data is a string gets no `@CurrentSession()`;
 * a microservice message's payload, else its transport's context.
 */
export function recordKeyOf(context: ExecutionContext): object | undefined {
  const type = context.getType<string>();
  // `getArgByIndex(0)` is what `switchToHttp().getRequest()` returns, without the three closures it makes.
  if (type === 'http') return asObject(context.getArgByIndex(0));
  if (type === 'graphql') return asObject(context.getArgByIndex(3)) ?? asObject(context.getArgByIndex(2));
  if (type === 'ws') return asObject(context.getArgByIndex(1));
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
  return (key as { [RECORD]?: Session })[RECORD] ?? found.get(key);
}

/** Forgets what was found on a key that may outlive its message (a GraphQL context, when a field's `info` is not an object). */
export function forgetSession(key: object): void {
  found.delete(key);
}

/** The session of this kind an earlier guard of this route run found, if any (HTTP). */
export function foundSession(context: ExecutionContext, name: string): Session | undefined {
  for (let found = (context as { [BY_KIND]?: Found })[BY_KIND]; found; found = found.next)
    if (found.name === name) return found.session;
  return undefined;
}

/**
 * Gives an HTTP request the two properties the guard writes (`RECORD` and
 * `authSession`, both `undefined`), before Express 5 changes its prototype.
 * V8 caches neither a property added after `Object.setPrototypeOf` nor a store
 * to a request's hidden class made that way, so the guard's two additions would each
 * copy the request's descriptors into a new hidden class on every request (why:
 * bench/README.md); added here, on Node's own request class, they follow the one
 * transition every request takes, and the guard only overwrites them. Callgrind,
 * bench's cached app (2026-12-02, four windows of 2,000 requests each way): a cache
 * hit 810 to 845 k instructions a request without, 784 to 803 k with; the public
 * route 718 to 747 k without, 732 to 742 k with.
 */
export function reserveRecord(request: object): void {
  const slots = request as { [RECORD]?: Session } & Record<string, unknown>;
  slots[RECORD] = undefined;
  slots[SESSION_REQUEST_KEY] = undefined;
}

/**
 * Records the session of a request or message. On HTTP the route's guard run
 * remembers it by kind, and the request shows it as `request.authSession` (for
 * interceptors and filters); other keys, each authenticated again, only keep
 * the current one.
 */
export function rememberSession(
  context: ExecutionContext,
  key: object,
  http: boolean,
  name: string,
  session: Session,
): void {
  if (!http) {
    found.set(key, session);
    return;
  }
  const run = context as { [BY_KIND]?: Found };
  run[BY_KIND] = { name, session, next: run[BY_KIND] };
  const request = key as { [RECORD]?: Session } & Record<string, unknown>;
  request[RECORD] = session;
  request[SESSION_REQUEST_KEY] = session;
}
