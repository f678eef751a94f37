import { DEFAULT_KIND } from '../constants';
import { DEFAULT_TOKEN_LENGTH } from '../tokens/auth-token';
import type { ColumnOptions } from './options.interface';

/**
 * Every option's default, in one place, as a user would write it. The options
 * interface's JSDoc `@default` repeats them, and a test checks the README's
 * table against this object.
 */
export const DEFAULTS = {
  name: DEFAULT_KIND,
  ttl: '7d',
  extendOnUse: true,
  /** Or `ttl / 7` when that is shorter: a short ttl must still slide. */
  extendThreshold: '1d',
  absoluteTtl: null,
  tokenLength: DEFAULT_TOKEN_LENGTH,
  hashAlgorithm: 'sha256',
  /** For the default kind; another kind's table is its name in snake_case. */
  tableName: 'sessions',
  pruneInterval: null,
  pruneGrace: 0,
  pruneBatchSize: 10_000,
  tokenPrefix: '',
  statementTimeout: null,
  /** `null`: as the ORM's `preferReadReplicas` says. */
  preferReadReplicas: null,
  listenUrl: null,
  rotation: null,
  scopes: false,
  trackLastUsed: null,
  maxPerUser: null,
  cache: { ttl: '30s', max: 10_000 },
  cookie: { name: 'auth_token', httpOnly: true, secure: true, sameSite: 'lax', path: '/' },
} as const;

/** The default extra columns: the seed demo's `user_id`. */
export const DEFAULT_COLUMNS: Record<string, ColumnOptions> = { userId: { type: 'string', index: true } };

/** The default extra column's settings, beyond its type. */
export const COLUMN_DEFAULTS = { type: 'string', index: false, nullable: true, length: 255 } as const;
