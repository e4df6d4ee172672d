import type { TRPC_ERROR_CODE_KEY } from '@trpc/server/rpc';
import { generateOpenApiDocument, type OpenAPIObject } from 'trpc-to-openapi';
import { z } from 'zod';
import { version } from '../../package.json';
import { restErrorBody, retryAfterSeconds } from '../api/error-shape';
import { type ProcedureEntry, restProcedures } from './procedures';
import { bodyLimitBytes } from '../api/raw-input';
import { appRouter } from '../api/router';
import { enqueueJob, jobTypeEntity } from '../schemas/processing-job';

/** Where the REST routes of the procedures are served. */
export const restPrefix = '/api';

type PathItem = NonNullable<OpenAPIObject['paths']>[string];
type Operation = NonNullable<PathItem['get']>;
type Responses = NonNullable<Operation['responses']>;
type Schema = Record<string, unknown>;

/**
 * Why a write is rejected with 409, by procedure, where the reason is known. Every write may be (a unique value taken,
 * or a row changed by another request first), so one not named here documents the general reason.
 */
const leaseLost = 'The lease is no longer the caller’s: it expired and was taken over, or the job ended.';
const illegalMove = "The session's status does not allow this move.";
const sessionClosed =
  'A session named is completed or failed and takes no new jobs, or a job changed state while it was being ' +
  'queued (try again).';
const conflicts: Record<string, string> = {
  'channels.create': 'A channel with this `youtubeChannelId` already exists (`field` names it).',
  'channels.update': 'Another channel has this `youtubeChannelId` (`field` names it).',
  'videos.create': 'A video with this `youtubeVideoId` already exists (`field` names it).',
  'videos.update': 'Another video has this `youtubeVideoId` (`field` names it).',
  'transcripts.create': 'The video already has a transcript with this language and source.',
  'transcripts.update': 'The video already has another transcript with this language and source.',
  'jobs.enqueue': sessionClosed,
  'jobs.enqueueMany': sessionClosed,
  'jobs.heartbeat': leaseLost,
  'jobs.complete': leaseLost,
  'jobs.release': leaseLost,
  'jobs.fail': leaseLost,
  'jobs.snooze': leaseLost,
  'jobs.cancel': 'The job is neither queued nor running.',
  'jobs.requeue': 'The job is not running.',
  'jobs.retry': 'The job has not failed.',
  'sessions.start': illegalMove,
  'sessions.pause': illegalMove,
  'sessions.resume': illegalMove,
  'sessions.complete': illegalMove,
  'sessions.fail': illegalMove,
};

const anyConflict =
  'The write conflicts with the current state of the data: a unique value another row holds, or a row another ' +
  'request changed first (`field` names what, where it can).';

const errorBody = (code: TRPC_ERROR_CODE_KEY) => restErrorBody.extend({ code: z.literal(code) });

/**
 * Every error status an operation may respond with, the rule that says which operations may, and what it means.
 * Each is in the body shape of `restErrorBody`, its `code` fixed by the status.
 */
const rejections: {
  status: number;
  name: string;
  code: TRPC_ERROR_CODE_KEY;
  description: string;
  applies: (entry: ProcedureEntry, method: string, path: string) => boolean;
}[] = [
  {
    status: 400,
    name: 'BadRequest',
    code: 'BAD_REQUEST',
    description:
      'The input was rejected: a value breaks its schema (`issues` lists each, `field` names the first), a ' +
      'parameter or property the operation does not name, malformed JSON or a body that is not an object, a ' +
      'cursor this API did not issue, a row the input refers to that does not exist (`field` names it), or a ' +
      'path that does not decode.',
    applies: () => true,
  },
  {
    status: 401,
    name: 'Unauthorized',
    code: 'UNAUTHORIZED',
    description: 'The server runs with tokens and the request carries none of them as a bearer token.',
    applies: () => true,
  },
  {
    status: 403,
    name: 'Forbidden',
    code: 'FORBIDDEN',
    description: "The token's role may not make this call (see the roles above).",
    applies: (entry) => entry.access !== 'read',
  },
  {
    status: 404,
    name: 'NotFound',
    code: 'NOT_FOUND',
    description: 'The row the path names does not exist.',
    applies: (_entry, _method, path) => path.includes('{'),
  },
  {
    status: 413,
    name: 'PayloadTooLarge',
    code: 'PAYLOAD_TOO_LARGE',
    description: `The body is larger than ${bodyLimitBytes / 1024 / 1024} MiB.`,
    applies: (_entry, method) => method !== 'get',
  },
  {
    status: 415,
    name: 'UnsupportedMediaType',
    code: 'UNSUPPORTED_MEDIA_TYPE',
    description: 'A body was sent with a content type other than `application/json`.',
    applies: (_entry, method) => method !== 'get',
  },
  {
    status: 500,
    name: 'InternalServerError',
    code: 'INTERNAL_SERVER_ERROR',
    description: 'An unexpected failure; in production the message says no more than that.',
    applies: () => true,
  },
  {
    status: 503,
    name: 'ServiceUnavailable',
    code: 'SERVICE_UNAVAILABLE',
    description:
      'The database cannot be reached, or stayed busy with concurrent writes past the retries. Try again after ' +
      '`Retry-After` seconds.',
    applies: () => true,
  },
];

const conflictCode: TRPC_ERROR_CODE_KEY = 'CONFLICT';
const schemaRef = (code: TRPC_ERROR_CODE_KEY) => ({ $ref: `#/components/schemas/Error.${code}` });
const errorContent = (code: TRPC_ERROR_CODE_KEY) => ({ 'application/json': { schema: schemaRef(code) } });

/** The shared error responses, referred to by each operation that may give them. */
const errorResponses = Object.fromEntries(
  rejections.map(({ status, name, code, description }) => [
    name,
    {
      description,
      content: errorContent(code),
      ...(status === 503 && {
        headers: {
          'Retry-After': {
            description: 'Seconds to wait before trying again.',
            required: true,
            schema: { type: 'integer' as const, minimum: 0, examples: [Number(retryAfterSeconds)] },
          },
        },
      }),
    },
  ]),
);

/** Whether a zod input rejects properties it does not name, as `z.strictObject` does. */
const isStrict = (input: z.ZodObject) =>
  z.toJSONSchema(input, { io: 'input', unrepresentable: 'any' }).additionalProperties === false;

/** Whether a string schema trims what it is given before its other checks, found by giving it some. */
const trims = (schema: z.ZodType) => schema.safeParse(' a ').data === 'a';

/** Whether a URL schema takes http(s) only, found by giving it another scheme. */
const httpOnly = (schema: z.ZodType) =>
  schema.safeParse('https://example.com/').success && !schema.safeParse('ftp://example.com/').success;

/** The entity each job type is about, as JSON Schema: a generated client sees which pairs `enqueueJob` takes. */
const jobTypePairs = {
  oneOf: Object.entries(jobTypeEntity).map(([jobType, entityType]) => ({
    properties: { jobType: { const: jobType }, entityType: { const: entityType } },
  })),
};
const jobTypeSentence = `Each job type is about one kind of entity: ${Object.entries(jobTypeEntity)
  .map(([jobType, entityType]) => `${jobType} a ${entityType}`)
  .join(', ')}.`;

/** Adds a sentence to a schema's description, once: the generator may share one schema object between places. */
const sentence = (schema: Schema, text: string) => {
  const description = typeof schema.description === 'string' ? schema.description : '';
  if (!description.includes(text)) schema.description = description ? `${description} ${text}` : text;
};

/** The branch of a nullable schema (`anyOf` with null) that holds the value, or the schema itself. */
const valueBranch = (schema: Schema) =>
  (schema.anyOf as Schema[] | undefined)?.find((branch) => branch.type !== 'null') ?? schema;

/**
 * Puts into a JSON Schema the rules its zod schema holds that the generator leaves out, walking both together:
 * text trimmed before its length is checked, URLs of http(s) only, the job types each entity takes, and dates,
 * which a response carries as RFC 3339 date-time strings. Each is read from the zod schema itself, so the
 * document follows the schemas as they change.
 */
function describeRules(input: z.ZodType, json: Schema | undefined): void {
  if (json === undefined) return;
  if (input instanceof z.ZodOptional || input instanceof z.ZodNullable || input instanceof z.ZodDefault) {
    describeRules(input.unwrap() as z.ZodType, json);
    return;
  }
  const value = valueBranch(json);
  if (input === enqueueJob) {
    Object.assign(value, jobTypePairs);
    sentence(value, jobTypeSentence);
  }
  if (input instanceof z.ZodObject) {
    const properties = value.properties as Record<string, Schema> | undefined;
    for (const [key, field] of Object.entries(input.shape as Record<string, z.ZodType>))
      describeRules(field, properties?.[key]);
  } else if (input instanceof z.ZodArray) {
    describeRules(input.element as z.ZodType, value.items as Schema | undefined);
  } else if (input instanceof z.ZodUnion) {
    const branches = (value.oneOf ?? value.anyOf) as Schema[] | undefined;
    input.options.forEach((option, index) => describeRules(option as z.ZodType, branches?.[index]));
  } else if (input instanceof z.ZodDate) {
    value.format = 'date-time';
  } else if (input instanceof z.ZodString || input instanceof z.ZodStringFormat) {
    if (trims(input)) {
      value.pattern ??= '\\S';
      sentence(
        value,
        'White space around it is trimmed before its length is checked; something else must remain.',
      );
    }
    if (value.format === 'uri' && httpOnly(input)) {
      value.pattern ??= '^[Hh][Tt][Tt][Pp][Ss]?://';
      sentence(value, 'An http or https URL.');
    }
  }
}

/**
 * Where the generator's rendering of a procedure falls short of what the server does, the operation is completed
 * from the procedure itself: its error responses (every status it may give, in the API's error shape), the rules
 * of its input JSON Schema has no keyword for, and the strictness of a body the generator rebuilt without it (it
 * does so for an input with a refinement, which zod will not `omit` from).
 */
function complete(
  operation: Operation,
  entry: ProcedureEntry,
  name: string,
  method: string,
  path: string,
): void {
  // A create responds 201 Created: the generator says 200 for every success.
  const success = name.endsWith('.create') ? 201 : 200;
  const responses: Responses = { [success]: operation.responses?.[200] };
  for (const rejection of rejections) {
    if (rejection.applies(entry, method, path))
      responses[rejection.status] = { $ref: `#/components/responses/${rejection.name}` };
  }
  if (method !== 'get')
    responses[409] = { description: conflicts[name] ?? anyConflict, content: errorContent(conflictCode) };
  operation.responses = Object.fromEntries(
    Object.entries(responses).sort(([a], [b]) => Number(a) - Number(b)),
  ) as Responses;

  const responseSchema = (
    operation.responses?.[success] as { content?: Record<string, { schema?: Schema }> } | undefined
  )?.content?.['application/json']?.schema;
  describeRules(entry.output, responseSchema);

  const input = entry.input instanceof z.ZodOptional ? entry.input.unwrap() : entry.input;
  const shape = input.shape as Record<string, z.ZodType>;
  for (const parameter of (operation.parameters ?? []) as { name: string; schema?: Schema }[])
    if (shape[parameter.name]) describeRules(shape[parameter.name]!, parameter.schema);
  const body = (operation.requestBody as { content?: Record<string, { schema?: Schema }> } | undefined)
    ?.content?.['application/json']?.schema;
  if (body === undefined) return;
  if (isStrict(input)) body.additionalProperties = false;
  describeRules(input, body);
}

/**
 * The OpenAPI 3.1 document of every procedure with a REST route, generated from the procedures' own zod input and
 * response schemas, so it cannot drift from what the server checks, and completed with every error response
 * each operation may give.
 */
export function openApiDocument(): OpenAPIObject {
  const codes: TRPC_ERROR_CODE_KEY[] = [...rejections.map((rejection) => rejection.code), conflictCode];
  const document = generateOpenApiDocument(appRouter, {
    title: 'TubeSensei API',
    version,
    description:
      'Channels, videos, transcripts, processing jobs and sessions. Every operation here is also a tRPC ' +
      'procedure at `/trpc/<router>.<name>` for TypeScript clients. When the server runs with tokens ' +
      '(`API_TOKEN`, `API_TOKENS`), send one as a bearer token (Authorize, above); each operation names the ' +
      'roles that may call it, and a token of another role is rejected with 403.\n\n' +
      'Every error response has the body `{ code, message, field, issues }`, its `code` fixed by its status. ' +
      'A query parameter or body property an operation does not name is rejected with 400. A request whose ' +
      'request line and headers pass 16 KB is rejected by the HTTP server itself with 431, before the API ' +
      'reads it.',
    securitySchemes: {
      bearer: {
        type: 'http',
        scheme: 'bearer',
        description:
          'A token of one of three roles: `reader` reads; `worker` reads, runs the queue (claim, heartbeat, ' +
          'complete, fail), enqueues jobs, upserts discovered videos and adds transcripts; `admin` may do ' +
          'everything. `API_TOKEN` is an admin token.',
      },
    },
    baseUrl: restPrefix,
    tags: ['channels', 'videos', 'transcripts', 'jobs', 'sessions'],
    defs: Object.fromEntries(codes.map((code) => [`Error.${code}`, errorBody(code)])),
  });

  const byOperationId = new Map(
    [...restProcedures].map(([name, entry]) => [name.replace(/\./g, '-'), { name, entry }]),
  );
  for (const [path, item] of Object.entries(document.paths ?? {})) {
    for (const [method, operation] of Object.entries(item as Record<string, Operation>)) {
      // The generator names each operation after its procedure, from the same router.
      const { name, entry } = byOperationId.get(operation.operationId!)!;
      complete(operation, entry, name, method, path);
    }
  }
  // The generator's own error schemas, which no operation refers to any more.
  const schemas = document.components?.schemas ?? {};
  for (const key of Object.keys(schemas)) if (key.startsWith('error.')) delete schemas[key];
  document.components = { ...document.components, responses: errorResponses };
  return document;
}
