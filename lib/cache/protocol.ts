import { createRequire } from 'node:module';
import type { MikroORM } from '@mikro-orm/core';

/**
 * The wire protocol instances use to tell each other of revocations: the
 * channel, what a notice says, and how a listening connection is named.
 */

/**
 * The `pg` that the ORM's PostgreSQL driver uses, found from the driver when this
 * package can see it, else from the app (strict installs such as pnpm).
 */
export function loadPg(): { Client: new (options: object) => PgClient } {
  for (const from of ['@mikro-orm/postgresql', `${process.cwd()}/`]) {
    try {
      const base = from.endsWith('/') ? from : require.resolve(from);
      return createRequire(base)('pg');
    } catch {
      // try the next place
    }
  }
  throw new Error('the pg package (a dependency of @mikro-orm/postgresql) cannot be found');
}

/** The PostgreSQL channel on which instances announce revocations. */
export const CACHE_CHANNEL = 'nestjs_ecto_sessions';

/**
 * What a notification says: the table, and the ids to drop or `all`. `nonce`
 * names a revocation; every other listener of the table answers it with `ack`
 * once it has dropped the ids, so the sender knows when all instances have.
 */
export interface InvalidationMessage {
  table: string;
  ids?: string[];
  all?: boolean;
  nonce?: string;
  ack?: string;
  /** The primary's WAL position once the revocation committed (replicas must replay past it). */
  lsn?: string;
}

/** What a kind's listener is told and asked. */
export interface ListenerOptions {
  orm: MikroORM;
  /** The sessions table this listener serves (it acknowledges that table's revocations). */
  table: string;
  /** A connection string straight to the primary, when the ORM's go through a pooler. */
  listenUrl: string | null;
  /** Another instance's revocation of this table, its position known (`lsn`) when `positions` is on. */
  onMessage(message: InvalidationMessage): void;
  /** Listening or not; when it starts, the primary's WAL position then (revocations before it were missed). */
  onListening(listening: boolean, lsn?: string): void;
  /** Whether revocations must carry a WAL position (replica reads): one sent without is given the primary's on arrival. */
  positions: boolean;
}

/** Past this many ids a revocation notice says "all": NOTIFY payloads are capped at 8000 bytes. */
const MAX_NOTIFIED_IDS = 100;

/**
 * The statement that tells every listener of `table` that sessions changed
 * (`ids`, or all). With a `nonce`, each listener answers it once it has dropped
 * them; without one, none answers (the sender has nobody listening for answers).
 */
export function revocationNotice(
  table: string,
  ids: string[] | 'all',
  nonce?: string,
  lsn?: string,
): { sql: string; params: unknown[] } {
  const all = ids === 'all' || ids.length > MAX_NOTIFIED_IDS;
  const message: InvalidationMessage = {
    table,
    ...(nonce ? { nonce } : {}),
    ...(all ? { all } : { ids: ids as string[] }),
    ...(lsn ? { lsn } : {}),
  };
  return { sql: 'SELECT pg_notify(?, ?)', params: [CACHE_CHANNEL, JSON.stringify(message)] };
}

/** The primary's WAL position: at or past every commit before it. */
export const WAL_POSITION = 'SELECT pg_current_wal_insert_lsn()::text AS "lsn"';

/** How a kind that names the default schema (`schema: 'public'`) writes its table. */
const PUBLIC = '"public".';

/** A table as written without the default schema: `"public"."sessions"` → `"sessions"`. */
function withoutPublic(table: string): string {
  return table.startsWith(PUBLIC) ? table.slice(PUBLIC.length) : table;
}

/**
 * Whether two kinds' tables are one: `"public"."sessions"` and `"sessions"` are,
 * so an app that names the schema and one that does not hear each other.
 */
export function sameTable(a: unknown, b: string): boolean {
  return typeof a === 'string' && withoutPublic(a) === withoutPublic(b);
}

/** Every `application_name` a listener of this table may have: with and without the default schema. */
export function listenerNames(table: string): string[] {
  const bare = withoutPublic(table);
  return bare.includes('"."') ? [listenerName(table)] : [listenerName(bare), listenerName(PUBLIC + bare)];
}

/**
 * The `application_name` of a table's listening connections: a revocation finds
 * them in `pg_stat_activity` to know whose acknowledgements to wait for.
 */
export function listenerName(table: string): string {
  return `nestjs-ecto-sessions:${table}`.slice(0, 63); // PostgreSQL keeps 63 bytes
}

export interface PgClient {
  connect(): Promise<void>;
  query(sql: string | { text: string; values: unknown[] }): Promise<{ rows: Array<Record<string, unknown>> }>;
  end(): Promise<void>;
  on(event: string, listener: (...args: any[]) => void): void;
  removeAllListeners(): void;
  processID?: number;
}

/** A notification as pg hands it over: `processId` is the sending backend's pid, which PostgreSQL sets. */
export interface Notification {
  channel: string;
  payload?: string;
  processId: number;
}

/** Why the cache of a kind cannot hear revocations right now (`undefined` while it can). */
export type ListenerState = 'listening' | 'connecting' | 'unreachable' | 'pooler';
