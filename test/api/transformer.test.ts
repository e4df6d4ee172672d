import fc from 'fast-check';
import superjson from 'superjson';
import { describe, expect, it } from 'vitest';
import { serializeAnswer } from '../../src/api/transformer';

/** The result as it goes over the wire, or the error thrown. */
function outcome(serialize: (value: unknown) => unknown, value: unknown): unknown {
  try {
    return JSON.parse(JSON.stringify(serialize(value))) as unknown;
  } catch (error) {
    return `throws ${(error as Error).message}`;
  }
}

const shared = { shared: true };
const key = fc.oneof(
  fc.string(),
  fc.constantFrom('a.b', 'a\\b', '.', '\\', '__proto__', 'constructor', 'prototype', '0'),
);
const leaf = fc.oneof(
  fc.string(),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.double(),
  fc.integer(),
  fc.date(),
  fc.date({ noInvalidDate: true }),
  fc.constantFrom(shared, new Map([[1, 2]]), new Set([1]), 10n, Number.NaN, -0),
);
const { tree } = fc.letrec<{ tree: unknown }>((self) => ({
  tree: fc.oneof(
    { depthSize: 'small' },
    leaf,
    fc.array(self('tree')),
    fc.dictionary(key, self('tree')),
    fc.dictionary(key, self('tree')).map((entries) => Object.assign(Object.create(null) as object, entries)),
  ),
}));

describe('the answer serializer', () => {
  it('writes what superjson writes, for any value', () => {
    fc.assert(
      fc.property(tree, (value) => {
        expect(outcome(serializeAnswer, value)).toEqual(outcome((v) => superjson.serialize(v), value));
      }),
      { numRuns: 2_000 },
    );
  });

  it('leaves arrays with holes to superjson', () => {
    // eslint-disable-next-line no-sparse-arrays
    const holed = [1, , 3];
    expect(serializeAnswer(holed)).toEqual(superjson.serialize(holed));
  });

  it('writes a page of rows with dates, nulls and JSON metadata as superjson does', () => {
    const row = (n: number) => ({
      id: `id-${n}`,
      publishedAt: n % 2 ? new Date(n * 1_000) : null,
      createdAt: new Date(n),
      metadata: { 'with.dot': [1, { deep: 'x' }], 'back\\slash': null },
      tags: ['a', 'b'],
    });
    const page = { items: [row(1), row(2), row(3)], nextCursor: null };
    expect(JSON.stringify(serializeAnswer(page))).toBe(JSON.stringify(superjson.serialize(page)));
    expect(superjson.deserialize(serializeAnswer(page))).toEqual(page);
  });
});
