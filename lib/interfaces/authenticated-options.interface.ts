/** Options of `@Authenticated()`. */
export interface AuthenticatedOptions {
  /** Which kind of session the route accepts. @default 'default' */
  name?: string;
  /** No token: the handler runs without a session. A token that is sent must still be valid. @default false */
  optional?: boolean;
}
