import { LRUCache } from 'lru-cache';
import type { Session } from '../store/session.entity';

interface Entry {
  /** The session as read, never handed out itself: each hit gets a copy. */
  session: Session;
  /** `data` as JSON text, parsed afresh for each copy, so no caller can change what the next one gets. */
  data: string;
  /** The session's properties, and which of them hold a `Date` (copied, not shared): found once, at `set`. */
  keys: string[];
  dates: boolean[];
  /**
   * Other objects (`scopes`, JSON columns) as JSON text, parsed afresh for each
   * copy as `data` is: a caller that edits its session's scopes edits no one else's.
   */
  json: Array<string | undefined>;
}

/**
 * The opt-in, in-process LRU of a kind's valid sessions, keyed by digest.
 * It only serves while `usable`: the service turns that off whenever it cannot
 * hear other instances' revocations, so staleness is never unbounded; `ttl`
 * bounds it even when a notification is lost.
 */
export class SessionCache {
  private readonly lru: LRUCache<string, Entry>;
  /** Session id → digest: a session has one token, so one entry. */
  private readonly keysById = new Map<string, string>();
  private usable = false;
  /**
   * Bumped by every invalidation: a lookup that started before one may carry a
   * row that was revoked meanwhile, and must not put it back (see `set`).
   */
  private generation = 0;
  private readonly ttlMs: number;

  constructor(options: { ttl: number; max: number }) {
    this.ttlMs = options.ttl * 1000;
    this.lru = new LRUCache<string, Entry>({
      max: options.max,
      ttl: options.ttl * 1000,
      ttlAutopurge: false,
      dispose: (entry, key) => {
        if (this.keysById.get(entry.session.id) === key) this.keysById.delete(entry.session.id);
      },
    });
  }

  /** Whether the cache may serve; turning it on or off empties it (notifications may have been missed). */
  setUsable(usable: boolean): void {
    if (usable !== this.usable) this.clear();
    this.usable = usable;
  }

  /** Taken before a lookup; `set` with it is ignored if anything was invalidated since. */
  get stamp(): number {
    return this.generation;
  }

  get isUsable(): boolean {
    return this.usable;
  }

  get size(): number {
    return this.lru.size;
  }

  /**
   * A copy of the cached session while it is valid at `now`, or `undefined`. One
   * past its expiry may have been extended by another instance: the database decides.
   */
  get(digest: string, now: Date): Session | undefined {
    if (!this.usable) return undefined;
    const entry = this.lru.get(digest);
    if (!entry) return undefined;
    const { session } = entry;
    if (session.expiresAt !== null && session.expiresAt.getTime() <= now.getTime()) return undefined;
    const copy = Object.create(Object.getPrototypeOf(session)) as Session;
    const { keys, dates, json } = entry;
    for (let i = 0; i < keys.length; i++) {
      const value = session[keys[i]];
      const text = json[i];
      copy[keys[i]] =
        text !== undefined
          ? JSON.parse(text)
          : dates[i] && value !== null
            ? new Date((value as Date).getTime())
            : value;
    }
    copy.data = entry.data === '{}' ? {} : JSON.parse(entry.data);
    copy.authTokenDigest = session.authTokenDigest;
    return copy;
  }

  set(digest: string, session: Session, stamp: number): void {
    if (!this.usable || stamp !== this.generation) return;
    const previous = this.keysById.get(session.id);
    if (previous !== undefined && previous !== digest) this.lru.delete(previous);
    // Each entry lives 90 to 100 % of the ttl: sessions cached in one burst (a
    // restart, a deploy) then expire spread out, not in one burst of lookups.
    const ttl = Math.round(this.ttlMs * (0.9 + Math.random() * 0.1));
    const keys = Object.keys(session);
    const dates = keys.map((key) => session[key] instanceof Date);
    const json = keys.map((key) => {
      const value = session[key];
      return key !== 'data' && typeof value === 'object' && value !== null && !(value instanceof Date)
        ? JSON.stringify(value)
        : undefined;
    });
    this.lru.set(digest, { session, data: JSON.stringify(session.data ?? {}), keys, dates, json }, { ttl });
    this.keysById.set(session.id, digest);
  }

  /** Records a newer expiry written by this process. */
  patch(id: string, expiresAt: Date, updatedAt: Date): void {
    const key = this.keysById.get(id);
    const entry = key === undefined ? undefined : this.lru.get(key);
    if (entry) {
      entry.session.expiresAt = new Date(expiresAt.getTime());
      entry.session.updatedAt = new Date(updatedAt.getTime());
    }
  }

  invalidate(ids: Iterable<string>): void {
    this.generation++;
    for (const id of ids) {
      const key = this.keysById.get(id);
      if (key !== undefined) this.lru.delete(key);
      this.keysById.delete(id);
    }
  }

  clear(): void {
    this.generation++;
    this.lru.clear();
    this.keysById.clear();
  }
}
