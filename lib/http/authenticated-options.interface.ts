/**
 * Options of `@Authenticated()`. A handler's options replace its controller's
 * as a whole (they are not merged): repeat `name` on a handler that also sets `optional`.
 */
export interface AuthenticatedOptions {
  /** Which kind of session the route accepts. @default 'default' */
  name?: string;
  /** No token: the handler runs without a session. A token that is sent must still be valid. @default false */
  optional?: boolean;
  /**
   * Step-up (RFC 9470): the session's login (`insertedAt`, which rotation keeps)
   * must be at most this old (seconds, or `'5m'`), else 401 with
   * `WWW-Authenticate: Bearer error="insufficient_user_authentication", max_age="<s>"`.
   * The session stays valid for other routes; a fresh login makes a new session.
   */
  maxAge?: number | string;
  /**
   * Every scope listed must be on the session (`'*'` grants all; the kind needs
   * `scopes: true`), else 403 with `WWW-Authenticate: Bearer error="insufficient_scope", scope="..."`.
   */
  scopes?: string[];
}
