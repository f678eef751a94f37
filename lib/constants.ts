/** Name of the kind configured without a `name`. */
export const DEFAULT_KIND = 'default';

/** Metadata key of `@Authenticated()` options. */
export const AUTHENTICATED_KEY = 'ecto-sessions:authenticated';

/** Metadata key that opts a route out of a global guard. */
export const PUBLIC_KEY = 'ecto-sessions:public';

/** Request property the guard puts the session on (not `session`, which express-session owns). */
export const SESSION_REQUEST_KEY = 'authSession';
