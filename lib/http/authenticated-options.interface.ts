/**
 * Options of `@Authenticated()`. A handler's options replace its controller's
 * as a whole (they are not merged): repeat `name` on a handler that also sets `optional`.
 */
export interface AuthenticatedOptions {
  /** Which kind of session the route accepts. @default 'default' */
  name?: string;
  /** No token: the handler runs without a session. A token that is sent must still be valid. @default false */
  optional?: boolean;
}
