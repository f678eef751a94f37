import { IncomingMessage } from 'node:http';
import { Http2ServerRequest } from 'node:http2';
import type { Session } from '../store/session.entity';
import { SESSION_REQUEST_KEY } from '../constants';

/** What the guard found for one request: the current session and, on HTTP, each kind's (a second guard run costs nothing). */
interface Found {
  current: Session;
  byKind: Record<string, Session>;
}

/**
 * Keyed by the object that lives as long as the request or message: the HTTP
 * request, the GraphQL context, a WebSocket message's data, a microservice
 * message's payload. The only record of what the guard found: an `authSession`
 * on a message is the sender's. A map rather than properties on the request: on
 * Express 5's requests (whose prototype Express swaps) a missing property costs
 * about 1 µs to read and a new one about 5 µs to add, which a cached request felt.
 */
const FOUND = new WeakMap<object, Found>();

/** The session the guard found for a request or message, if any. */
export function currentSessionOf(carrier: object): Session | undefined {
  return FOUND.get(carrier)?.current;
}

/** Forgets what was found on a carrier that may outlive its message (a WebSocket client). */
export function forgetSession(carrier: object): void {
  FOUND.delete(carrier);
}

/** Whether a session of this kind was already found for this HTTP request. */
export function foundKind(request: object, name: string): boolean {
  return FOUND.get(request)?.byKind[name] !== undefined;
}

/**
 * Records the session of a request. An HTTP request remembers it by kind (a
 * route guard after the global one costs nothing); other carriers, each
 * authenticated again, only keep the current one.
 */
export function rememberSession(carrier: object, http: boolean, name: string, session: Session): void {
  const found = http ? FOUND.get(carrier) : undefined;
  if (found) {
    found.current = session;
    found.byKind[name] = session;
  } else FOUND.set(carrier, { current: session, byKind: http ? { [name]: session } : {} });
}

/** Prototypes of everything of their kind in the process: never changed. */
const SHARED = new Set<object>([Object.prototype, IncomingMessage.prototype, Http2ServerRequest.prototype]);

/** Prototypes of framework requests that already read `authSession` from the map. */
const EXPOSED = new WeakSet<object>();

/**
 * Makes the session readable as `request.authSession` (for interceptors and
 * filters). On a framework's request (Express's `app.request`, Fastify's
 * Request class) an accessor is installed once on the prototype all its
 * requests share, so no request pays for a new property; on a plain object
 * it is set as an own property.
 */
export function exposeSession(request: object, session: Session): void {
  const proto = Object.getPrototypeOf(request) as object | null;
  if (proto === null || SHARED.has(proto) || !exposeOn(proto)) {
    (request as Record<string, unknown>)[SESSION_REQUEST_KEY] = session;
  }
}

function exposeOn(proto: object): boolean {
  if (EXPOSED.has(proto)) return true;
  // Fastify's encapsulated contexts chain their Request prototypes: ours, inherited, serves them too.
  for (let above = Object.getPrototypeOf(proto); above !== null; above = Object.getPrototypeOf(above)) {
    if (EXPOSED.has(above)) {
      EXPOSED.add(proto);
      return true;
    }
  }
  // Someone else's `authSession` (or a frozen prototype): leave it alone and set the property per request.
  if (SESSION_REQUEST_KEY in proto || !Object.isExtensible(proto)) return false;
  Object.defineProperty(proto, SESSION_REQUEST_KEY, {
    configurable: true,
    enumerable: false,
    get(this: object) {
      return FOUND.get(this)?.current;
    },
    set(this: object, value: unknown) {
      // An app's own assignment wins for this request, as a plain property would.
      Object.defineProperty(this, SESSION_REQUEST_KEY, { value, writable: true, enumerable: true, configurable: true });
    },
  });
  EXPOSED.add(proto);
  return true;
}
