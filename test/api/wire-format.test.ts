import fc from 'fast-check';
import superjson from 'superjson';
import { describe, expect, it } from 'vitest';
import { responseDates } from '../../src/api/wire-format';

/** What a response goes through: written as JSON text by the server, parsed and revived by the client. */
const overTheWire = (value: unknown) =>
  responseDates.deserialize(JSON.parse(JSON.stringify(responseDates.serialize(value))));

/** The same through the stock transformer, superjson both ways. */
const throughSuperjson = (value: unknown) => superjson.parse(superjson.stringify(value));

/** Keys superjson refuses to write and the API rejects in every input, so no response holds them. */
const reservedKeys = new Set(['__proto__', 'constructor', 'prototype']);

/** What a zod output schema lets through: JSON values (finite numbers) and valid dates, nested. */
const { response } = fc.letrec((tie) => ({
  response: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.string(),
    fc.date({ noInvalidDate: true }).map((date) => date.toISOString()),
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }).map((number) => (number === 0 ? 0 : number)),
    fc.date({ noInvalidDate: true }),
    fc.array(tie('response'), { maxLength: 5 }),
    fc.dictionary(
      fc.string().filter((key) => !reservedKeys.has(key)),
      tie('response'),
      { maxKeys: 5 },
    ),
  ),
}));

describe('the wire format of tRPC responses', () => {
  it('reads back every response as superjson would: each date a date, every other value as it was', () => {
    fc.assert(
      fc.property(response, (value) => {
        expect(overTheWire(value)).toEqual(throughSuperjson(value));
      }),
      { numRuns: 500 },
    );
  });

  it('finds dates under keys holding dots or digits, in nested arrays, and at the root', () => {
    const at = new Date('2026-03-29T01:30:00.000Z');
    const value = {
      'a.b': { '0': at, 1: [at, [at]] },
      '': at,
      items: [{ at }, null, 'x'],
      title: at.toISOString(),
    };
    expect(overTheWire(value)).toEqual(value);
    expect(overTheWire(at)).toEqual(at);
    expect(responseDates.serialize({ id: 'x', count: 2 })).toEqual({ json: { id: 'x', count: 2 } });
  });

  it('skips a malformed list of dates rather than failing the call', () => {
    const payload = { json: { at: '2026-01-01T00:00:00.000Z', n: 1 }, dates: [null, 5, 'at', [{}], ['at']] };
    expect(responseDates.deserialize(payload)).toEqual({ at: new Date('2026-01-01T00:00:00.000Z'), n: 1 });
  });

  it('revives only own properties that hold strings: a path through __proto__ changes no prototype', () => {
    const payload = JSON.parse(
      '{"json":{"__proto__":{"polluted":"2026-01-01T00:00:00.000Z"},"n":1,"s":"2026-01-01T00:00:00.000Z"},' +
        '"dates":[["__proto__","polluted"],["constructor","prototype","polluted"],["n"],["missing","x"],["s"]]}',
    ) as unknown;
    const read = responseDates.deserialize(payload) as Record<string, unknown>;
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
    expect(read.n).toBe(1);
    expect(read.s).toEqual(new Date('2026-01-01T00:00:00.000Z'));
  });
});
