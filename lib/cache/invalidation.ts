import { randomUUID } from 'node:crypto';
import { logger } from '../logger';
import type { Statement } from '../store/statements';
import { Acknowledgements } from './acknowledgements';
import { Heartbeat } from './heartbeat';
import {
  CACHE_CHANNEL,
  type InvalidationMessage,
  type ListenerOptions,
  type ListenerState,
  listenerName,
  listenerNames,
  loadPg,
  type Notification,
  type PgClient,
  revocationNotice,
  sameTable,
  WAL_POSITION,
} from './protocol';

export {
  CACHE_CHANNEL,
  type InvalidationMessage,
  type ListenerOptions,
  type ListenerState,
  listenerName,
  WAL_POSITION,
} from './protocol';
import { SenderRoles } from './sender-roles';

/** How long a revocation waits for the listeners' acknowledgements before returning anyway (and warning). */
const ACK_TIMEOUT_MS = 3000;

/** How long the start-up probe waits for its own notice. */
const PROBE_TIMEOUT_MS = 1000;

/** How long connecting, or any statement, may take on the listening connection: a black-holed route never answers. */
const CONNECTION_TIMEOUT_MS = 5000;

const FIRST_RETRY_MS = 250;
const LAST_RETRY_MS = 15_000;

/**
 * Both halves of the cross-instance revocation protocol for one table, on a
 * dedicated connection that LISTENs:
 * - receiving: other instances' revocations drop sessions from this cache, and
 *   are acknowledged once dropped;
 * - sending (`announce`): a revocation's notice goes out, and the call waits
 *   until every listening instance has acknowledged it.
 *
 * Any role on the server can LISTEN and NOTIFY on any channel, so a notice or an
 * acknowledgement counts only when PostgreSQL says it was sent by a backend of
 * this app's own role (`processId`, checked in `pg_stat_activity`), and only
 * connections of that role are waited for. A transaction pooler between here and
 * the server cannot deliver notices: then the cache stays bypassed and nothing
 * waits for acknowledgements.
 */
export class CacheInvalidationListener {
  private client: PgClient | undefined;
  /** This listener's backend pid, once it listens. */
  private ownPid: number | undefined;
  private retry: NodeJS.Timeout | undefined;
  private delay = FIRST_RETRY_MS;
  private stopped = false;
  private readonly acknowledgements = new Acknowledgements();
  private readonly heartbeat = new Heartbeat();
  private readonly senders = new SenderRoles(() => this.ourPids());
  private warned = false;
  private stateNow: ListenerState = 'connecting';

  private readonly table: string;

  constructor(private readonly options: ListenerOptions) {
    this.table = options.table;
  }

  /** Whether revocations are heard now, and if not, why. */
  get state(): ListenerState {
    return this.stateNow;
  }

  /** Starts listening; once stopped (the app closing, perhaps before this ran), never again. */
  async start(): Promise<void> {
    await this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.heartbeat.stop();
    this.acknowledgements.abandonAll();
    clearTimeout(this.retry);
    this.setListening(false, this.stateNow === 'pooler' ? 'pooler' : 'connecting');
    this.drop(this.client);
    this.client = undefined;
  }

  /**
   * Tells other instances that sessions changed (`ids`, or `all`), through
   * `run` (the ORM's connection, inside the caller's transaction if any), and
   * waits until every listener of the table has dropped them. Resolves `false`
   * when some did not answer in time, or could not be waited for: this
   * listener is down (its answers would not be heard; it reconnects). Inside a
   * transaction the notice goes out at commit, so nothing is waited for: that
   * would wait for ourselves.
   */
  async announce(
    ids: string[] | 'all',
    run: <T>(statement: Statement) => Promise<T>,
    inTransaction: boolean,
    lsn?: string,
    nonce: string = randomUUID(),
  ): Promise<boolean> {
    const notify = revocationNotice(this.table, ids, nonce, lsn);
    if (inTransaction || !this.client) {
      await run(notify);
      // Behind a pooler no instance of this configuration listens: there is nobody to wait for.
      return inTransaction || this.stateNow === 'pooler';
    }
    return this.acknowledgements.wait(
      nonce,
      async () => {
        // The listeners to wait for: connections of this app's own role named as ours. Another
        // role's connection named alike is never waited for, so it cannot stall revocations.
        const names = listenerNames(this.table);
        const [row] = await run<Array<{ listeners: string | null }>>({
          sql:
            `${notify.sql}, (SELECT string_agg(pid::text, ',') FROM pg_stat_activity ` +
            `WHERE application_name IN (${names.map(() => '?').join(', ')}) AND usename = session_user ` +
            `AND datname = current_database()) AS "listeners"`,
          params: [...notify.params, ...names],
        });
        return row?.listeners ? row.listeners.split(',').map(Number) : [];
      },
      ACK_TIMEOUT_MS,
    );
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    let client: PgClient | undefined;
    try {
      client = this.createClient();
      client.on('notification', (message: Notification) => void this.receive(message));
      client.on('error', () => this.lost(client!));
      client.on('end', () => this.lost(client!));
      await client.connect();
      const [{ pid }] = (await client.query('SELECT pg_backend_pid() AS pid')).rows as Array<{ pid: number }>;
      if (client.processID !== undefined && client.processID !== pid) {
        // A pooler (PgBouncer, Supavisor...) answers the connection with its own key, not the
        // server's: its server connections change hands between statements, so LISTEN cannot hold.
        this.drop(client);
        this.setListening(false, 'pooler'); // the kind says so once, at start-up (`kindMode`)
        return;
      }
      await client.query(`LISTEN ${CACHE_CHANNEL}`);
      if (this.stopped) return this.drop(client);
      this.client = client;
      this.ownPid = pid;
      // Serve only once a notice sent from another connection really arrives
      // (embedded PGlite, for one, accepts LISTEN but delivers nothing across connections).
      if (!(await this.probe())) throw new Error('notices sent from another connection do not arrive');
      // Named only once it is known to hear: whoever finds us by name waits for our answer.
      await client.query(`SET application_name = '${listenerName(this.table).replace(/'/g, "''")}'`);
      this.delay = FIRST_RETRY_MS;
      this.warned = false;
      const lsn = this.options.positions ? await this.primaryPosition() : undefined;
      this.setListening(true, 'listening', lsn);
      this.heartbeat.start(
        () => client!.query('SELECT 1'),
        () => this.lost(client!),
      );
    } catch (error) {
      if (this.client === client) this.client = undefined;
      this.drop(client);
      this.setListening(false, 'unreachable');
      if (!this.warned) {
        logger.warn(
          `Session cache bypassed: cannot listen for revocations (${(error as Error)?.message ?? 'error'}); retrying`,
        );
        this.warned = true;
      }
      this.scheduleReconnect();
    }
  }

  /** Sends a notice through the ORM's own connection and waits for it to come back here. */
  private probe(): Promise<boolean> {
    const nonce = `probe:${randomUUID()}`;
    // No table: other listeners ignore it, so only this one's echo counts.
    return this.acknowledgements.wait(
      nonce,
      async () => {
        await this.options.orm.em
          .getConnection()
          .execute('SELECT pg_notify(?, ?)', [CACHE_CHANNEL, JSON.stringify({ table: '', nonce })], 'all');
        return [this.ownPid!];
      },
      PROBE_TIMEOUT_MS,
    );
  }

  private setListening(listening: boolean, state: ListenerState, lsn?: string): void {
    this.stateNow = state;
    this.options.onListening(listening, lsn);
  }

  /** The primary's WAL position, asked on this connection (straight to the primary). */
  private async primaryPosition(): Promise<string> {
    const { rows } = await this.client!.query(WAL_POSITION);
    return String(rows[0].lsn);
  }

  private lost(client: PgClient): void {
    if (client !== this.client) return;
    this.client = undefined;
    this.heartbeat.stop();
    this.drop(client);
    this.setListening(false, 'unreachable');
    this.acknowledgements.abandonAll();
    if (!this.stopped) {
      logger.warn('Session cache bypassed: the revocation listener lost its connection; reconnecting');
      this.scheduleReconnect();
    }
  }

  private drop(client: PgClient | undefined): void {
    client?.removeAllListeners();
    client?.on('error', () => undefined); // pg may still emit one while ending: never an uncaught exception
    client?.end().catch(() => undefined);
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    clearTimeout(this.retry);
    this.retry = setTimeout(() => void this.connect(), this.delay);
    this.retry.unref();
    this.delay = Math.min(this.delay * 2, LAST_RETRY_MS);
  }

  /**
   * Acts on a notice. One it could not act on (its sender's role or its WAL position
   * unreadable: the connection failing) gives the connection up, which empties the
   * cache and keeps reads off replicas until listening again, rather than let a
   * revocation go unapplied.
   */
  private async receive(notification: Notification): Promise<void> {
    const client = this.client;
    try {
      await this.handle(notification);
    } catch {
      if (client) this.lost(client);
    }
  }

  private async handle(notification: Notification): Promise<void> {
    if (notification.channel !== CACHE_CHANNEL || !notification.payload) return;
    let message: InvalidationMessage;
    try {
      message = JSON.parse(notification.payload) as InvalidationMessage;
    } catch {
      return; // not ours: other apps may share the channel name
    }
    if (typeof message !== 'object' || message === null) return;
    // Anyone can notify on this channel: only this app's own role may revoke, acknowledge or echo.
    if (notification.processId !== this.ownPid && !(await this.senders.isOurs(notification.processId))) return;
    if (typeof message.ack === 'string') return this.acknowledgements.heard(message.ack, notification.processId);
    // A revocation made inside a transaction left without its position: it is committed now, so the primary's is past it.
    if (this.options.positions && typeof message.lsn !== 'string') message.lsn = await this.primaryPosition();
    this.options.onMessage(message);
    if (typeof message.nonce !== 'string') return;
    if (this.acknowledgements.has(message.nonce))
      this.acknowledgements.heard(message.nonce, this.ownPid!); // our own notice's echo
    else if (sameTable(message.table, this.table)) this.acknowledge(message.nonce);
  }

  /** The pids of this app's role's backends on this database. */
  private async ourPids(): Promise<number[]> {
    const { rows } = await this.client!.query(
      'SELECT pid FROM pg_stat_activity WHERE usename = session_user AND datname = current_database()',
    );
    return rows.map((row) => Number(row.pid));
  }

  /** Tells the sender of a revocation that this instance has dropped it (on this connection: no pool needed). */
  private acknowledge(nonce: string): void {
    const payload = JSON.stringify({ table: this.table, ack: nonce });
    this.client?.query({ text: 'SELECT pg_notify($1, $2)', values: [CACHE_CHANNEL, payload] }).catch(() => undefined); // a lost connection is handled by `lost`; the sender times out
  }

  /** A `pg` client to `listenUrl`, else with the ORM's connection settings, from the `pg` that the ORM's driver uses. */
  private createClient(): PgClient {
    const { Client } = loadPg();
    // First, so that an app's own timeouts (a slow serverless start) win.
    const timeouts = { connectionTimeoutMillis: CONNECTION_TIMEOUT_MS, query_timeout: CONNECTION_TIMEOUT_MS };
    if (this.options.listenUrl) return new Client({ ...timeouts, connectionString: this.options.listenUrl });
    const { orm } = this.options;
    const connection = orm.em.getConnection() as unknown as { getConnectionOptions(): Record<string, unknown> };
    const driverOptions = (orm.config.get('driverOptions') ?? {}) as { connection?: Record<string, unknown> };
    return new Client({ ...timeouts, ...connection.getConnectionOptions(), ...(driverOptions.connection ?? {}) });
  }
}
