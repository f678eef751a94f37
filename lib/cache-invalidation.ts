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

/** What a notification says: the table, and the ids to drop or `all`; `nonce` lets the sender see its own echo. */
export interface InvalidationMessage {
  table: string;
  ids?: string[];
  all?: boolean;
  nonce?: string;
}

/** How long a revocation waits for its own notice to come back before returning anyway. */
const ECHO_TIMEOUT_MS = 1000;

interface PgClient {
  connect(): Promise<void>;
  query(sql: string): Promise<unknown>;
  end(): Promise<void>;
  on(event: string, listener: (...args: any[]) => void): void;
  removeAllListeners(): void;
  processID?: number;
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
  private readonly echoes = new Map<string, (heard: boolean) => void>();
  private warned = false;

  constructor(
    private readonly orm: MikroORM,
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
   * Resolves once this listener hears the notice with `nonce`, i.e. once the
   * database has delivered it to every listening instance; at most one second.
   */
  echo(nonce: string, onHeard?: () => void): Promise<void> {
    if (!this.client) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => done(), ECHO_TIMEOUT_MS);
      timer.unref();
      const done = (heard = false) => {
        clearTimeout(timer);
        this.echoes.delete(nonce);
        if (heard) onHeard?.();
        resolve();
      };
      this.echoes.set(nonce, done);
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const done of [...this.echoes.values()]) done(false);
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
  private async probe(): Promise<boolean> {
    const nonce = `probe:${Math.random().toString(36).slice(2)}`;
    let heard = false;
    const echo = this.echo(nonce, () => (heard = true));
    await this.orm.em
      .getConnection()
      .execute('SELECT pg_notify(?, ?)', [CACHE_CHANNEL, JSON.stringify({ table: '', nonce })], 'all');
    await echo;
    return heard;
  }

  private lost(client: PgClient): void {
    if (client !== this.client) return;
    this.client = undefined;
    client.removeAllListeners();
    client.on('error', () => undefined);
    client.end().catch(() => undefined);
    this.onListening(false);
    for (const done of [...this.echoes.values()]) done(false);
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
    try {
      const parsed = JSON.parse(message.payload) as InvalidationMessage;
      this.onMessage(parsed);
      if (parsed.nonce) this.echoes.get(parsed.nonce)?.(true);
    } catch {
      // Not ours (or malformed): other apps may share the channel name.
    }
  }

  /** A `pg` client with the ORM's connection settings, from the `pg` that the ORM's driver uses. */
  private createClient(): PgClient {
    const connection = this.orm.em.getConnection() as unknown as { getConnectionOptions(): Record<string, unknown> };
    const driverOptions = (this.orm.config.get('driverOptions') ?? {}) as { connection?: Record<string, unknown> };
    const { Client } = loadPg();
    return new Client({ ...connection.getConnectionOptions(), ...(driverOptions.connection ?? {}) });
  }
}
