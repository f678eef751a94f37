import { LRUCache } from 'lru-cache';

type Row = Record<string, unknown>;

interface Entry {
  id: string;
  /** The row with `data` kept as JSON text, so no caller can mutate what the next one gets. */
  row: Row;
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

  constructor(options: { ttl: number; max: number }) {
    this.lru = new LRUCache<string, Entry>({
      max: options.max,
      ttl: options.ttl * 1000,
      ttlAutopurge: false,
      dispose: (entry, key) => {
        if (this.keysById.get(entry.id) === key) this.keysById.delete(entry.id);
      },
    });
  }

  /** Whether the cache may serve; turning it on or off empties it (notifications may have been missed). */
  setUsable(usable: boolean): void {
    if (usable !== this.usable) this.clear();
    this.usable = usable;
  }

  get isUsable(): boolean {
    return this.usable;
  }

  get size(): number {
    return this.lru.size;
  }

  /** A fresh copy of the cached row, or `undefined`. */
  get(digest: string): Row | undefined {
    if (!this.usable) return undefined;
    const entry = this.lru.get(digest);
    if (!entry) return undefined;
    return { ...entry.row, data: JSON.parse(entry.row.data as string) };
  }

  set(digest: string, row: Row): void {
    if (!this.usable) return;
    const id = row.id as string;
    const previous = this.keysById.get(id);
    if (previous !== undefined && previous !== digest) this.lru.delete(previous);
    this.lru.set(digest, { id, row: { ...row, data: JSON.stringify(row.data ?? {}) } });
    this.keysById.set(id, digest);
  }

  /** Records a newer expiry written by this process. */
  patch(id: string, fields: Row): void {
    const key = this.keysById.get(id);
    const entry = key === undefined ? undefined : this.lru.get(key);
    if (entry) entry.row = { ...entry.row, ...fields };
  }

  invalidate(ids: Iterable<string>): void {
    for (const id of ids) {
      const key = this.keysById.get(id);
      if (key !== undefined) this.lru.delete(key);
      this.keysById.delete(id);
    }
  }

  clear(): void {
    this.lru.clear();
    this.keysById.clear();
  }
}
