import { z } from 'zod';
import type { ZodOpenApiOverrideMeta } from 'zod-openapi';

/** Field rules shared by several entities; each entity's own rules live in its schema file. */

export const uuid = z.uuid();

/**
 * A stored row's schema from its entity's write schema: every written field present (null where empty), the id,
 * any columns the database computes (`computed`), and the timestamps it keeps.
 */
export const rowSchema = <Shape extends z.ZodRawShape, Computed extends z.ZodRawShape = Record<never, never>>(
  write: z.ZodObject<Shape>,
  computed: Computed = {} as Computed,
) => write.required().extend({ id: uuid, ...computed, createdAt: z.date(), updatedAt: z.date() });

/** The input of every procedure that names one row by its id. */
export const byId = z.strictObject({ id: uuid });

/** PostgreSQL `integer` counts. */
export const count = z.number().int().min(0).max(2_147_483_647);

/** PostgreSQL `bigint` counts, kept within what a JavaScript number holds exactly. */
export const bigCount = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const priority = z.number().int().min(-1_000_000).max(1_000_000);

export const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).max(2_048);

/** In OpenAPI documents, a timestamp is what JSON carries: a date-time string. */
const asDateTimeString: ZodOpenApiOverrideMeta = ({ jsonSchema }) => {
  delete jsonSchema.anyOf;
  Object.assign(jsonSchema, { type: 'string', format: 'date-time' });
};

/**
 * A Date, or an ISO 8601 string with an offset, so both the typed client and plain JSON callers can send one.
 * It ends in a plain date so the OpenAPI generator accepts it as a query parameter, where it reads as text, and
 * documents it as a date-time string.
 */
export const timestamp = z
  .union([
    z.date(),
    z.iso
      .datetime({ offset: true, error: 'must be a date or an ISO 8601 string' })
      .transform((text) => new Date(text)),
  ])
  .pipe(z.date())
  .meta({ override: asDateTimeString });

export const maxJsonBytes = 64 * 1024;

const withinJsonBytes = (value: unknown) => JSON.stringify(value).length <= maxJsonBytes;
const jsonBytesMessage = `must serialise to at most ${maxJsonBytes} bytes`;

/** A JSONB object column: any JSON object of a bounded size. */
export const jsonObject = z.record(z.string(), z.json()).refine(withinJsonBytes, jsonBytesMessage);

/** A JSONB object column with some keys of known shape; any other key holds any JSON. */
export const jsonObjectWith = <Shape extends z.ZodRawShape>(shape: Shape) =>
  z.object(shape).catchall(z.json()).refine(withinJsonBytes, jsonBytesMessage);

export const longText = z.string().max(10_000);

export const errorMessage = z.string().max(10_000);
