import { Session } from '../store/session.entity';
import { SessionCache } from './session-cache';

function session(id: string): Session {
  const s = Object.create(Session.prototype) as Session;
  Object.assign(s, {
    id,
    data: { n: 1 },
    expiresAt: new Date(Date.now() + 60_000),
    insertedAt: new Date(),
    updatedAt: new Date(),
  });
  s.authTokenDigest = `digest-${id}`;
  return s;
}

describe('SessionCache', () => {
  it('a lookup that started before a revocation cannot put the revoked row back', () => {
    const cache = new SessionCache({ ttl: 60, max: 10 });
    cache.setUsable(true);
    const stamp = cache.stamp; // the lookup starts
    cache.invalidate(['a']); // the session is revoked meanwhile
    cache.set('digest-a', session('a'), stamp); // the stale row arrives
    expect(cache.get('digest-a', Date.now())).toBeUndefined();
    cache.set('digest-a', session('a'), cache.stamp);
    expect(cache.get('digest-a', Date.now())?.id).toBe('a');
  });

  it('spreads expiries over the last tenth of the ttl, so sessions cached together do not all expire together', () => {
    const cache = new SessionCache({ ttl: 100, max: 1000 });
    cache.setUsable(true);
    for (let i = 0; i < 200; i++) cache.set(`digest-${i}`, session(String(i)), cache.stamp);
    const lru = (cache as unknown as { lru: { getRemainingTTL(key: string): number } }).lru;
    const remaining = Array.from({ length: 200 }, (_, i) => lru.getRemainingTTL(`digest-${i}`));
    for (const ms of remaining) {
      expect(ms).toBeGreaterThan(89_000);
      expect(ms).toBeLessThanOrEqual(100_000);
    }
    expect(new Set(remaining.map((ms) => Math.round(ms / 1000))).size).toBeGreaterThan(5);
  });

  it('serves copies that share nothing mutable with the entry', () => {
    const cache = new SessionCache({ ttl: 60, max: 10 });
    cache.setUsable(true);
    cache.set('digest-a', session('a'), cache.stamp);
    const first = cache.get('digest-a', Date.now())!;
    (first.data as { n: number }).n = 2;
    first.expiresAt!.setTime(0);
    const second = cache.get('digest-a', Date.now())!;
    expect(second.data).toEqual({ n: 1 });
    expect(second.expiresAt!.getTime()).toBeGreaterThan(Date.now());
    expect(second.authTokenDigest).toBe('digest-a');
    expect(Object.keys(second)).not.toContain('authTokenDigest');
  });

  it("gives each hit data equal to a JSON round trip of the row's, nested values and a `__proto__` key included", () => {
    const cache = new SessionCache({ ttl: 60, max: 10 });
    cache.setUsable(true);
    const s = session('a');
    s.data = JSON.parse('{"a":{"b":[1,{"c":"d"}]},"n":null,"__proto__":{"x":1}}');
    cache.set('digest-a', s, cache.stamp);
    const first = cache.get('digest-a', Date.now())!;
    expect(JSON.stringify(first.data)).toBe(JSON.stringify(s.data));
    expect(Object.getPrototypeOf(first.data)).toBe(Object.prototype);
    expect(Object.keys(first.data)).toEqual(['a', 'n', '__proto__']);
    (first.data.a.b[1] as { c: string }).c = 'changed';
    first.data.a.b.push(2);
    const second = cache.get('digest-a', Date.now())!;
    expect(second.data.a).toEqual({ b: [1, { c: 'd' }] });
  });

  it('serves a cached session only while it is valid: one past its expiry goes to the database', () => {
    const cache = new SessionCache({ ttl: 60, max: 10 });
    cache.setUsable(true);
    cache.set('digest-a', session('a'), cache.stamp);
    expect(cache.get('digest-a', Date.now() + 59_000)?.id).toBe('a');
    expect(cache.get('digest-a', Date.now() + 61_000)).toBeUndefined();
  });

  it('serves nothing while unusable, and empties itself when that changes', () => {
    const cache = new SessionCache({ ttl: 60, max: 10 });
    cache.set('digest-a', session('a'), cache.stamp);
    expect(cache.get('digest-a', Date.now())).toBeUndefined();
    cache.setUsable(true);
    cache.set('digest-a', session('a'), cache.stamp);
    cache.setUsable(false);
    cache.setUsable(true);
    expect(cache.get('digest-a', Date.now())).toBeUndefined();
  });
});
