import type { EctoSessionsOptions } from 'nestjs-ecto-sessions';

/** Name of the second kind: API keys, in their own table. */
export const API_KEYS = 'apiKeys';

/**
 * The sample runs on plain http://localhost, where browsers drop `Secure`
 * cookies; a deployment behind HTTPS keeps the library's default (`true`).
 */
export const COOKIE_SECURE = false;

/**
 * Browser sessions: a week, slid forward at most once an hour, never past 30
 * days. Expired rows stay listed (as expired) for an hour, then pruning,
 * checked every `pruneInterval`, deletes them.
 */
export function browserSessions(pruneInterval: string | null): EctoSessionsOptions {
  return {
    ttl: '7d',
    extendOnUse: true,
    extendThreshold: '1h',
    absoluteTtl: '30d',
    cookie: { secure: COOKIE_SECURE },
    pruneInterval,
    pruneGrace: '1h',
  };
}

/**
 * API keys never expire (until revoked) and are only read from headers: a key
 * is meant for scripts, never for a browser cookie.
 */
export const apiKeys: EctoSessionsOptions = {
  name: API_KEYS,
  tableName: 'api_keys',
  ttl: null,
  tokenFrom: [{ type: 'header', name: 'x-auth-token' }, { type: 'bearer' }],
};

/** What an API key keeps in `data`. */
export interface ApiKeyData {
  name: string;
  /**
   * ISO time of the last `/api/me` call with the key, written at most once a
   * minute: the library does not track use, and `updatedAt` does not move for
   * keys that never expire.
   */
  lastUsedAt?: string;
}
