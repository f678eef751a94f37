import type { Duration, EctoSessionsOptions } from 'nestjs-ecto-sessions';

/** Name of the second kind: API keys, in their own table. */
export const API_KEYS = 'apiKeys';

/**
 * The sample runs on plain http://localhost, where browsers drop `Secure`
 * cookies; a deployment behind HTTPS keeps the library's default (`true`).
 */
export const COOKIE_SECURE = false;

/** How often a browser's token is replaced while it browses (the tests shorten it). */
export const ROTATE_EVERY = '15m';
/** How long a replaced token still works: for requests already on their way and other tabs. */
export const ROTATION_GRACE = '1m';
/** Most browser sessions one user may have at once: a login beyond it signs out the oldest. */
export const MAX_SESSIONS_PER_USER = 5;
/** "Sign out everywhere" needs a login at most this old (step-up, RFC 9470). */
export const RECENT_LOGIN = '5m';

/** What `npm start` and the tests may change about browser sessions. */
export interface BrowserSessionSettings {
  /** Seconds or a duration between prunes of expired sessions; `null` = off. */
  pruneInterval: string | null;
  /** A cookie's token older than this is replaced on the next page. @default ROTATE_EVERY */
  rotateEvery?: Duration;
}

/**
 * Browser sessions: a week, slid forward at most once an hour, never past 30
 * days. Expired rows stay listed (as expired) for an hour, then pruning,
 * checked every `pruneInterval`, deletes them. The cookie's token is replaced
 * every `rotateEvery` (the row, its id and its login time stay), and a user has
 * at most `MAX_SESSIONS_PER_USER` sessions: a login beyond that expires the oldest.
 */
export function browserSessions({
  pruneInterval,
  rotateEvery = ROTATE_EVERY,
}: BrowserSessionSettings): EctoSessionsOptions {
  return {
    ttl: '7d',
    extendOnUse: true,
    extendThreshold: '1h',
    absoluteTtl: '30d',
    cookie: { secure: COOKIE_SECURE },
    pruneInterval,
    pruneGrace: '1h',
    rotation: { grace: ROTATION_GRACE, every: rotateEvery },
    maxPerUser: { max: MAX_SESSIONS_PER_USER, onLimit: 'expireOldest' },
  };
}

/** What an API key may be allowed to do, chosen at its creation; `/api/me` needs none. */
export const API_SCOPES = [
  { name: 'sessions:read', description: 'list your browser sessions (GET /api/sessions)' },
  { name: 'sessions:revoke', description: 'sign a device out (DELETE /api/sessions/:id)' },
] as const;

export type ApiScope = (typeof API_SCOPES)[number]['name'];

/**
 * API keys never expire (until revoked) and are only read from headers: a key
 * is meant for scripts, never for a browser cookie. Each has the scopes ticked
 * when it was made, and its last use is recorded at most once a minute.
 */
export const apiKeys: EctoSessionsOptions = {
  name: API_KEYS,
  tableName: 'api_keys',
  ttl: null,
  tokenFrom: [{ type: 'header', name: 'x-auth-token' }, { type: 'bearer' }],
  scopes: true,
  trackLastUsed: '1m',
};

/** What an API key keeps in `data`. */
export interface ApiKeyData {
  name: string;
}
