import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsonEqual, stableStringify } from '../../src/testing/format.js';

// A value, and the same value with its object keys in another order and `undefined` members
// added: equal as the model compares states.
const json = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constantFrom(null, true, false, 0, 1, -1.5, '', 'a', 'b'),
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom('a', 'b', 'c', 'd'), tie('value'), { maxKeys: 4 }),
  ),
})).value;

function reshuffled(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reshuffled);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = { zz: undefined };
  for (const key of Object.keys(value).reverse())
    out[key] = reshuffled((value as Record<string, unknown>)[key]);
  return out;
}

describe('stableStringify', () => {
  it('writes JSON with sorted keys, leaving out undefined members', () => {
    expect(stableStringify({ b: 1, a: { d: [1, { c: 2, b: undefined }], c: null } })).toBe(
      '{"a":{"c":null,"d":[1,{"c":2}]},"b":1}',
    );
    expect(stableStringify(new Date(0))).toBe('"1970-01-01T00:00:00.000Z"');
    expect(stableStringify([undefined, () => {}])).toBe('[null,null]');
    expect(stableStringify(undefined)).toBe('undefined');
  });
});

describe('jsonEqual', () => {
  it('agrees with comparing stableStringify, whatever the key order', () => {
    fc.assert(
      fc.property(json, json, (a, b) => {
        expect(jsonEqual(a, b)).toBe(stableStringify(a) === stableStringify(b));
        expect(jsonEqual(a, reshuffled(a))).toBe(true);
        expect(jsonEqual(reshuffled(b), a)).toBe(stableStringify(a) === stableStringify(b));
      }),
      { numRuns: 2_000 },
    );
  });
});
