import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { appRouter } from '../../src/api/router';
import { processingSessionFactory, transcriptFactory } from '../../dev/factories';
import { useApi } from '../support/api';
import { testDatabase } from '../support/database';

const api = useApi();

type Procedure = { _def: { type: 'query' | 'mutation'; inputs: z.ZodType[] } };
const procedures = Object.entries(appRouter._def.procedures as unknown as Record<string, Procedure>);

const deep = (levels: number): unknown => (levels === 0 ? 'bottom' : { next: deep(levels - 1) });

/** Values no field of ours should accept as they are, or only at its limits. */
const nasty = fc.oneof(
  fc.constantFrom(
    Number.NaN,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    -1,
    2 ** 31,
    2 ** 63,
    -(2 ** 53),
  ),
  fc.double(),
  fc.integer(),
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    'nul\u0000byte',
    "'; DROP TABLE channels; --",
    '%_\\',
    'not-a-uuid',
    'deleted',
  ),
  fc.constantFrom('00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff'),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('x'.repeat(1_048_576), '🎬'.repeat(5_001)),
  fc.uuid(),
  fc.boolean(),
  fc.constant(null),
  fc.date({ noInvalidDate: false }),
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 5 }),
  fc.constant(Array.from({ length: 501 }, (_, i) => i)),
  fc.constant(deep(200)),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 5 }),
);

/** The field names of a procedure's input, so the fuzzer aims at real fields as well as at the shape. */
function fieldsOf(schema: z.ZodType | undefined): string[] {
  const shape = (schema as { shape?: Record<string, unknown> } | undefined)?.shape;
  if (shape) return Object.keys(shape);
  const options = (schema as { options?: z.ZodType[] } | undefined)?.options;
  return options ? [...new Set(options.flatMap(fieldsOf))] : [];
}

function inputsFor(schema: z.ZodType | undefined) {
  const fields = fieldsOf(schema);
  const record = fields.length
    ? fc.record(Object.fromEntries(fields.map((field) => [field, nasty])), { requiredKeys: [] })
    : fc.constant({});
  return fc.oneof(
    { weight: 6, arbitrary: record },
    {
      weight: 1,
      arbitrary: fc
        .tuple(record, fc.string({ minLength: 1, maxLength: 10 }), nasty)
        .map(([r, k, v]) => ({ ...r, [`extra_${k}`]: v })),
    },
    { weight: 1, arbitrary: nasty },
    {
      weight: 1,
      arbitrary: fc.constant({ cursor: Buffer.from('["2020-01-01", "nope"]').toString('base64url') }),
    },
  );
}

/** Row counts and a checksum of every table: what a rejected call must leave exactly as it was. */
async function fingerprint(): Promise<string> {
  const { rows } = await testDatabase().db.raw(`
    SELECT string_agg(sum, ',' ORDER BY t) AS all FROM (
      SELECT 'c' AS t, count(*) || md5(coalesce(string_agg(x::text, '' ORDER BY id), '')) AS sum FROM channels x
      UNION ALL SELECT 'v', count(*) || md5(coalesce(string_agg(x::text, '' ORDER BY id), '')) FROM videos x
      UNION ALL SELECT 't', count(*) || md5(coalesce(string_agg(x::text, '' ORDER BY id), '')) FROM transcripts x
      UNION ALL SELECT 'j', count(*) || md5(coalesce(string_agg(x::text, '' ORDER BY id), '')) FROM processing_jobs x
      UNION ALL SELECT 's', count(*) || md5(coalesce(string_agg(x::text, '' ORDER BY id), '')) FROM processing_sessions x
    ) sums`);
  return rows[0].all;
}

const runsPerProcedure = Number(process.env.FUZZ_RUNS ?? 40);
const tally = { calls: 0, rejected: 0, serverErrors: 0, changedByRejected: 0 };

// Over REST, test/api/openapi-contract.test.ts sends requests generated from the OpenAPI document, fitting it and
// broken, and holds every response to the document.
describe('every procedure, fuzzed with invalid and boundary input', () => {
  it('has something to find', async () => {
    await processingSessionFactory.transient({ jobs: 3 }).create();
    await transcriptFactory.create();
  });

  for (const [path, procedure] of procedures) {
    it(`${path} rejects bad input with a 4xx naming the problem, never a 5xx, and changes nothing`, async () => {
      const call = procedure._def.type === 'query' ? api.query : api.mutate;
      await fc.assert(
        fc.asyncProperty(inputsFor(procedure._def.inputs[0]), async (input) => {
          const before = await fingerprint();
          const response = await call(path, input);
          tally.calls += 1;
          if (response.status >= 500) tally.serverErrors += 1;
          expect(response.status, JSON.stringify(response.error)).toBeLessThan(500);
          if (response.status >= 400) {
            tally.rejected += 1;
            // A query string too long for Node's HTTP parser is rejected before tRPC sees it (414/431).
            const rejectedByHttp = response.status === 414 || response.status === 431;
            if (!rejectedByHttp) expect(response.error?.message.length ?? 0).toBeGreaterThan(0);
            const after = await fingerprint();
            if (after !== before) tally.changedByRejected += 1;
            expect(after).toBe(before);
          }
        }),
        { numRuns: runsPerProcedure, seed: 20_261_124 },
      );
    });
  }

  it('reports what it tried', () => {
    console.info(
      `fuzz: ${tally.calls} calls over ${procedures.length} procedures (${runsPerProcedure} each over tRPC), ${tally.rejected} rejected with a 4xx, ${tally.serverErrors} 5xx, ${tally.changedByRejected} rejected calls that changed rows`,
    );
    expect(tally.serverErrors).toBe(0);
    expect(tally.changedByRejected).toBe(0);
  });
});
