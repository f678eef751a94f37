/** Which sessions a query sees, by expiry. */
export type SessionStatus = 'valid' | 'expired' | 'all';

/** A scalar a column filter compares with; `null` matches NULL. */
export type FilterValue = string | number | boolean | Date | null;

/**
 * Filters of `findOne`, `list`, `count` and `deleteAll`: `id`, `token`, any
 * extra column by property name (`userId`), and `status`.
 */
export interface SessionFilters {
  id?: string;
  /** A plaintext token; matched through its digest. */
  token?: string;
  /** @default 'valid' ('all' for `deleteAll`) */
  status?: SessionStatus;
  userId?: FilterValue;
  [column: string]: FilterValue | undefined;
}

export interface ListOptions {
  /** @default 100 */
  limit?: number;
  /** @default 0 */
  offset?: number;
  /** Property and direction. @default { insertedAt: 'desc' } (newest first) */
  orderBy?: Record<string, 'asc' | 'desc'>;
}

/** Attributes of `create`: `data` and extra columns. */
export interface CreateSessionAttrs<Data extends object = Record<string, any>> {
  data?: Data;
  userId?: FilterValue;
  /** With the kind's `scopes: true`: what the session may do (`'*'` = everything). @default [] */
  scopes?: string[];
  [column: string]: unknown;
}

/** What `update` may change: `data` and extra columns. */
export type UpdateSessionAttrs<Data extends object = Record<string, any>> = CreateSessionAttrs<Data>;

export interface AuthenticateOptions {
  /** Extend the session now; overrides `extendOnUse` (the threshold still applies). */
  extend?: boolean;
}
