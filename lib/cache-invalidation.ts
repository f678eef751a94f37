import { createRequire } from 'node:module';
import type { MikroORM } from '@mikro-orm/core';
import { Logger } from '@nestjs/common';

/**
 * The `pg` that the ORM's PostgreSQL driver uses, found from the driver when this
 * package can see it, else from the app (strict installs such as pnpm).
 */
function loadPg(): { Client: new (options: object) => PgClient } {
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
}

/** How long a revocation waits for the listeners' acknowledgements before returning anyway (and warning). */
const ACK_TIMEOUT_MS = 3000;

/** How long the start-up probe waits for its own notice. */
const PROBE_TIMEOUT_MS = 1000;

/**
 * The `application_name` of a table's listening connections: a revocation counts
 * them in `pg_stat_activity` to know how many acknowledgements to wait for.
 */
export function listenerName(table: string): string {
  return `nestjs-ecto-sessions:${table}`.slice(0, 63); // PostgreSQL keeps 63 bytes
}

interface PgClient {
  connect(): Promise<void>;
  query(sql: string | { text: string; values: unknown[] }): Promise<unknown>;
  end(): Promise<void>;
  on(event: string, listener: (...args: any[]) => void): void;
  removeAllListeners(): void;
  processID?: number;
}

/** A revocation waiting to be heard: by this listener (its echo) and by `expected` listeners in all. */
interface Pending {
  heard: number;
  expected: number | undefined;
  done(heard: boolean): void;
}

const FIRST_RETRY_MS = 250;
const LAST_RETRY_MS = 15_000;

/**
 * A dedicated connection that LISTENs for other instances' revocations. It
 * reports whether it is listening: the cache serves only while it is, and is
 * emptied whenever it (re)connects, since messages may have been missed.
 */
export class CacheInvalidationListener {
  private readonly logger = new Logger('EctoSessions');
  private client: PgClient | undefined;
  private retry: NodeJS.Timeout | undefined;
  private delay = FIRST_RETRY_MS;
  private stopped = false;
  private readonly pending = new Map<string, Pending>();
  private warned = false;

  constructor(
    private readonly orm: MikroORM,
    /** The sessions table this listener serves (it acknowledges that table's revocations). */
    private readonly table: string,
    private readonly onMessage: (message: InvalidationMessage) => void,
    private readonly onListening: (listening: boolean) => void,
  ) {}

  /** The backend pid of the listening connection (tests kill it to simulate a network fault). */
  get pid(): number | undefined {
    return this.client?.processID;
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.connect();
  }

  /** Whether the connection is listening now. */
  get listening(): boolean {
    return this.client !== undefined;
  }

  /**
   * Waits for the revocation `nonce` to be heard by every listener of the table,
   * this one included (its own echo): `send` publishes the notice and returns
   * how many listeners there are. Resolves `true` when all have answered,
   * `false` after the timeout; at once when this listener is not listening.
   */
  async acknowledged(nonce: string, send: () => Promise<number>, timeoutMs = ACK_TIMEOUT_MS): Promise<boolean> {
    if (!this.client) {
      await send(); // this instance cannot hear anyone (its cache is bypassed, and that was logged): nothing to wait for
      return true;
    }
    let entry!: Pending;
    const outcome = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => entry.done(false), timeoutMs);
      timer.unref();
      entry = {
        heard: 0,
        expected: undefined,
        done: (heard) => {
          clearTimeout(timer);
          this.pending.delete(nonce);
          resolve(heard);
        },
      };
    });
    this.pending.set(nonce, entry); // before sending: answers may arrive before `send` returns
    try {
      entry.expected = await send();
    } catch (error) {
      entry.done(false);
      throw error;
    }
    this.settle(nonce);
    return outcome;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abandonPending();
    clearTimeout(this.retry);
    this.onListening(false);
    const client = this.client;
    this.client = undefined;
    client?.removeAllListeners();
    client?.on('error', () => undefined); // pg may still emit one while ending: never an uncaught exception
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    let client: PgClient | undefined;
    try {
      client = this.createClient();
      client.on('notification', (message: { channel: string; payload?: string }) => this.receive(message));
      client.on('error', () => this.lost(client!));
      client.on('end', () => this.lost(client!));
      await client.connect();
      await client.query(`LISTEN ${CACHE_CHANNEL}`);
      // Named only once listening, so that whoever counts us can count on our answer.
      await client.query(`SET application_name = '${listenerName(this.table).replace(/'/g, "''")}'`);
      if (this.stopped) {
        await client.end();
        return;
      }
      this.client = client;
      // Serve only once a notice sent from another connection really arrives
      // (embedded PGlite, for one, accepts LISTEN but delivers nothing across connections).
      if (!(await this.probe())) throw new Error('notices sent from another connection do not arrive');
      this.delay = FIRST_RETRY_MS;
      this.warned = false;
      this.onListening(true);
    } catch (error) {
      if (this.client === client) this.client = undefined;
      client?.removeAllListeners();
      client?.on('error', () => undefined);
      client?.end().catch(() => undefined);
      if (!this.warned) {
        this.logger.warn(
          `Session cache bypassed: cannot listen for revocations (${(error as Error)?.message ?? 'error'}); retrying`,
        );
        this.warned = true;
      }
      this.scheduleReconnect();
    }
  }

  /** Sends a notice through the ORM's own connection and waits for it to come back here. */
  private probe(): Promise<boolean> {
    const nonce = `probe:${Math.random().toString(36).slice(2)}`;
    // No table: other listeners ignore it, so only this one's echo counts.
    return this.acknowledged(
      nonce,
      async () => {
        await this.orm.em
          .getConnection()
          .execute('SELECT pg_notify(?, ?)', [CACHE_CHANNEL, JSON.stringify({ table: '', nonce })], 'all');
        return 1;
      },
      PROBE_TIMEOUT_MS,
    );
  }

  /** Resolves a pending revocation once as many listeners as expected have heard it. */
  private settle(nonce: string): void {
    const entry = this.pending.get(nonce);
    if (entry?.expected !== undefined && entry.heard >= entry.expected) entry.done(true);
  }

  private abandonPending(): void {
    for (const entry of [...this.pending.values()]) entry.done(false);
  }

  private lost(client: PgClient): void {
    if (client !== this.client) return;
    this.client = undefined;
    client.removeAllListeners();
    client.on('error', () => undefined);
    client.end().catch(() => undefined);
    this.onListening(false);
    this.abandonPending();
    if (!this.stopped) {
      this.logger.warn('Session cache bypassed: the revocation listener lost its connection; reconnecting');
      this.scheduleReconnect();
    }
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    clearTimeout(this.retry);
    this.retry = setTimeout(() => void this.connect(), this.delay);
    this.retry.unref();
    this.delay = Math.min(this.delay * 2, LAST_RETRY_MS);
  }

  private receive(message: { channel: string; payload?: string }): void {
    if (message.channel !== CACHE_CHANNEL || !message.payload) return;
    let parsed: InvalidationMessage;
    try {
      parsed = JSON.parse(message.payload) as InvalidationMessage;
    } catch {
      return; // not ours: other apps may share the channel name
    }
    if (typeof parsed?.ack === 'string') return this.heard(parsed.ack);
    this.onMessage(parsed);
    if (typeof parsed?.nonce !== 'string') return;
    if (this.pending.has(parsed.nonce))
      this.heard(parsed.nonce); // our own revocation's echo
    else if (parsed.table === this.table) this.acknowledge(parsed.nonce);
  }

  private heard(nonce: string): void {
    const entry = this.pending.get(nonce);
    if (!entry) return;
    entry.heard++;
    this.settle(nonce);
  }

  /** Tells the sender of a revocation that this instance has dropped it (on this connection: no pool needed). */
  private acknowledge(nonce: string): void {
    const payload = JSON.stringify({ table: this.table, ack: nonce });
    this.client?.query({ text: 'SELECT pg_notify($1, $2)', values: [CACHE_CHANNEL, payload] }).catch(() => undefined); // a lost connection is handled by `lost`; the sender times out
  }

  /** A `pg` client with the ORM's connection settings, from the `pg` that the ORM's driver uses. */
  private createClient(): PgClient {
    const connection = this.orm.em.getConnection() as unknown as { getConnectionOptions(): Record<string, unknown> };
    const driverOptions = (this.orm.config.get('driverOptions') ?? {}) as { connection?: Record<string, unknown> };
    const { Client } = loadPg();
    return new Client({ ...connection.getConnectionOptions(), ...(driverOptions.connection ?? {}) });
  }
}
