import { z } from 'zod';
import type { ZodOpenApiOverrideMeta } from 'zod-openapi';

/** Field rules shared by several entities; each entity's own rules live in its schema file. */

export const uuid = z.uuid();

/** Checks that say what type a value is rather than what a write may set it to: an integer stays an integer. */
const typeChecks = new Set<string>(['number_format']);

/**
 * What a column written through `schema` can hold when it is read back: the same types, nullability, enums and
 * shapes, without the rules a write is held to (lengths, ranges, patterns, formats other than uuid, trimming, and
 * times relative to now). A row may predate a rule that was tightened since, and a database whose clock runs ahead
 * of this host's stamps moments this host would take for the future, so a response shows the row as it is rather
 * than fail its own check.
 *
 * The static type stays `T`'s: the rules it drops never narrow a type. A timestamp's pipe, which also takes
 * ISO strings as input, becomes the date it outputs; a response is built from rows, which hold dates.
 */
export function stored<T extends z.ZodType>(schema: T): T {
  const def = schema._zod.def as z.core.$ZodTypeDef & Record<string, unknown>;
  const checks = def.checks?.filter((check) => typeChecks.has(check._zod.def.check));
  const loosened = (parts: Record<string, unknown> = {}) =>
    schema.clone({ ...def, checks, ...parts } as z.core.$ZodTypeDef) as T;
  switch (def.type) {
    case 'optional':
    case 'nullable':
    case 'nonoptional':
    case 'default':
      return loosened({ innerType: stored(def.innerType as z.ZodType) });
    case 'pipe':
      return stored(def.out as T);
    case 'array':
      return loosened({ element: stored(def.element as z.ZodType) });
    case 'record':
      return loosened({ valueType: stored(def.valueType as z.ZodType) });
    case 'object':
      return loosened({
        shape: Object.fromEntries(
          Object.entries(def.shape as z.ZodRawShape).map(([key, field]) => [key, stored(field as z.ZodType)]),
        ),
      });
    case 'string':
      return def.format === 'uuid' ? schema : (z.string() as z.ZodType as T);
    default:
      return def.checks?.length ? loosened() : schema;
  }
}

/**
 * A stored row's schema from its entity's write schema: every written field present (null where empty) as
 * `stored` reads it, the id, any columns the database computes (`computed`), and the timestamps it keeps.
 */
export const rowSchema = <Shape extends z.ZodRawShape, Computed extends z.ZodRawShape = Record<never, never>>(
  write: z.ZodObject<Shape>,
  computed: Computed = {} as Computed,
) => stored(write.required()).extend({ id: uuid, ...computed, createdAt: z.date(), updatedAt: z.date() });

/** The input of every procedure that names one row by its id. */
export const byId = z.strictObject({ id: uuid });

/**
 * A strict object whose input may not name the fields in `kept`, each with why (something other than the caller
 * keeps it): one sent is rejected naming it, with its reason. The rejection names the first unknown key, so the
 * reason is that key's.
 */
export const strictWithout = <Shape extends z.ZodRawShape>(shape: Shape, kept: Record<string, string>) =>
  z.strictObject(shape, {
    error: (issue) => {
      const [first] = issue.code === 'unrecognized_keys' ? issue.keys : [];
      return first !== undefined && Object.hasOwn(kept, first) ? kept[first] : undefined;
    },
  });

/**
 * A field a create may carry only at `start`, the value a row starts with, because `keeper` keeps it after (a
 * later value is rejected naming the field). Its type stays the written field's, so callers that build a whole
 * row, as the factories do, still fit.
 */
export const onlyAtStart = <T extends z.ZodType>(field: T, start: null | number, keeper: string) => {
  const message = `must be ${String(start)}, where it starts; it ${keeper}`;
  // JSON Schema has no keyword for a refinement: the document says the one value a create takes.
  const onlyStart: ZodOpenApiOverrideMeta = ({ jsonSchema }) => {
    for (const key of Object.keys(jsonSchema)) delete jsonSchema[key as keyof typeof jsonSchema];
    Object.assign(jsonSchema, start === null ? { type: 'null' } : { const: start }, { description: message });
  };
  return field
    .refine((value) => value === undefined || value === start, { error: message })
    .meta({ override: onlyStart });
};

/**
 * An update's input, `id` and the fields to change: at least one of them, so an update that would change nothing
 * is rejected rather than treated as if it had changed something.
 */
export const updateOf = <Update extends z.ZodObject<{ id: typeof uuid }>>(update: Update): Update =>
  update.refine(
    (input) => Object.entries(input).some(([key, value]) => key !== 'id' && value !== undefined),
    {
      error: 'must change at least one field besides id',
      // An input already rejected for what it holds is not rejected for what it lacks as well.
      when: ({ issues }) => issues.length === 0,
    },
  );

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

/** The earliest or latest moment a timestamp field accepts, read when a value is checked, and why. */
interface Bound {
  at: () => Date;
  message: string;
}

const fixed = (at: Date, message: string): Bound => ({ at: () => at, message });

const fromNow = (aheadMs: number, message: string): Bound => ({
  at: () => new Date(Date.now() + aheadMs),
  message,
});

/**
 * What a response can carry as an RFC 3339 date-time and PostgreSQL reads back as it was written: years 1 to 9999
 * in UTC. An offset can move a 9999 date into year 10000, which neither does.
 */
const earliestRepresentable = fixed(new Date('0001-01-01T00:00:00.000Z'), 'must not be before year 1');
const latestRepresentable = fixed(new Date('9999-12-31T23:59:59.999Z'), 'must not be after year 9999 in UTC');

/** YouTube opened that day: nothing on it was published, discovered or processed before. */
export const youtubeFounded = new Date('2005-02-14T00:00:00.000Z');
const sinceYouTube = fixed(youtubeFounded, 'must not be before 2005-02-14, when YouTube was founded');

/** How far a caller's clock may run ahead of the server's when it reports a moment that has happened. */
export const clockSkewMs = 5 * 60_000;
const happened = fromNow(clockSkewMs, 'must not be more than 5 minutes in the future');

/** How far ahead a job may be scheduled: a year, a leap year's day included. */
export const scheduleHorizonMs = 366 * 86_400_000;
const withinHorizon = fromNow(scheduleHorizonMs, 'must not be more than 366 days in the future');

/**
 * A Date, or an ISO 8601 string with an offset, so both the typed client and plain JSON callers can send one,
 * between two bounds. It ends in a plain date so the OpenAPI generator accepts it as a query parameter, where it
 * reads as text, and documents it as a date-time string.
 */
const timestampWithin = (earliest: Bound, latest: Bound, description: string) =>
  z
    .union([
      z.date(),
      z.iso
        .datetime({ offset: true, error: 'must be a date or an ISO 8601 string' })
        .transform((text) => new Date(text)),
    ])
    .pipe(
      z
        .date()
        .refine((date) => date >= earliest.at(), { error: earliest.message })
        .refine((date) => date <= latest.at(), { error: latest.message }),
    )
    .meta({ override: asDateTimeString, description });

/** Any moment a response can carry: the bounds of a filter, say. */
export const timestamp = timestampWithin(
  earliestRepresentable,
  latestRepresentable,
  'A date-time in years 1 to 9999 (UTC).',
);

/** A moment that has happened: a video published, discovered or processed, a job or session started or ended. */
export const pastTimestamp = timestampWithin(
  sinceYouTube,
  happened,
  "A date-time from 2005-02-14 (YouTube's founding) to 5 minutes from now.",
);

/** A moment something is due: a job's earliest run, a lease's end. */
export const scheduledTimestamp = timestampWithin(
  sinceYouTube,
  withinHorizon,
  "A date-time from 2005-02-14 (YouTube's founding) to 366 days from now.",
);

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
