import { listenerName, listenerNames, sameTable } from './protocol';

describe('which tables are one', () => {
  it('the default schema named or not is one table; other schemas are others', () => {
    expect(sameTable('"public"."sessions"', '"sessions"')).toBe(true);
    expect(sameTable('"sessions"', '"public"."sessions"')).toBe(true);
    expect(sameTable('"sessions"', '"sessions"')).toBe(true);
    expect(sameTable('"auth"."sessions"', '"sessions"')).toBe(false);
    expect(sameTable('"api_keys"', '"sessions"')).toBe(false);
    expect(sameTable(undefined, '"sessions"')).toBe(false);
  });

  it("a revocation waits for the listeners of either spelling, and only the schema's own otherwise", () => {
    const both = [listenerName('"sessions"'), listenerName('"public"."sessions"')];
    expect(listenerNames('"sessions"').sort()).toEqual([...both].sort());
    expect(listenerNames('"public"."sessions"').sort()).toEqual([...both].sort());
    expect(listenerNames('"auth"."sessions"')).toEqual([listenerName('"auth"."sessions"')]);
  });
});
