import { BUILT_IN_COLUMNS, columnsOf } from './columns';
import { assertData, assertValue, describeValue, isPlainObject, isUuid } from './values';

describe('value checks', () => {
  it('describeValue: short, and never a long string in full', () => {
    expect(describeValue(null)).toBe('null');
    expect(describeValue([1])).toBe('an array');
    expect(describeValue({ a: 1 })).toBe('an object');
    expect(describeValue('x'.repeat(41))).toBe('a string of 41 characters');
    expect(describeValue('ok')).toBe('"ok"');
    expect(describeValue(5)).toBe('5');
  });

  it('isUuid and isPlainObject', () => {
    expect(isUuid('00000000-0000-4000-8000-000000000001')).toBe(true);
    expect(isUuid("1' OR '1'='1")).toBe(false);
    expect(isPlainObject({})).toBe(true);
    expect(isPlainObject(Object.create(null))).toBe(true);
    for (const value of [new Date(), new Map(), [], null, 'x']) expect(isPlainObject(value)).toBe(false);
  });

  it('assertValue: each column type takes only its values; null only where allowed', () => {
    const [integer] = columnsOf({
      n: { type: 'integer', fieldName: 'n', nullable: false, index: false, length: 255 },
    }).slice(-1);
    expect(() => assertValue('create', 'attribute', integer, 3)).not.toThrow();
    expect(() => assertValue('create', 'attribute', integer, 3.5)).toThrow(
      'create: attribute "n" must be a whole number, got 3.5',
    );
    expect(() => assertValue('create', 'attribute', integer, null)).toThrow(/whole number/);
    expect(() => assertValue('list', 'filter', integer, null)).not.toThrow(); // IS NULL
    const expiresAt = BUILT_IN_COLUMNS.find((c) => c.property === 'expiresAt')!;
    expect(() => assertValue('list', 'filter', expiresAt, 'not a date')).toThrow(/valid Date/);
  });

  it('assertData: a JSON object only', () => {
    expect(() => assertData('create', {})).not.toThrow();
    for (const value of [[], null, 'x', 1])
      expect(() => assertData('create', value)).toThrow(/data must be a JSON object/);
  });
});
