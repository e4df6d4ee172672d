import type { TRPCError } from '@trpc/server';
import { ZodError, z } from 'zod';

/** What a 503 (database unreachable, or busy past its retries) tells the caller to wait, in seconds. */
export const retryAfterSeconds = '1';

/** One rejected part of an input: where it is, what is wrong with it, and zod's name for the rule it breaks. */
export const errorIssue = z.strictObject({
  path: z
    .array(z.union([z.string(), z.number().int().min(0)]))
    .describe(
      'Where in the input: property names and array indexes from the top; empty for the input itself.',
    ),
  message: z.string(),
  code: z.string().describe("zod's issue code, such as `invalid_type`, `too_big` or `unrecognized_keys`."),
});

/**
 * What every error response carries, over tRPC (in `error.data`, beside its message) and REST (its body, with
 * `code`) alike. The OpenAPI document describes the REST body from this schema.
 */
export const errorDetail = z.strictObject({
  message: z.string(),
  field: z
    .string()
    .nullable()
    .describe('The input field at fault, when one is: a dotted path such as `videos.3.title`.'),
  issues: z
    .array(errorIssue)
    .nullable()
    .describe("The input's rejected parts when a schema rejected it, each with its path; null otherwise."),
});
export type ErrorDetail = z.infer<typeof errorDetail>;

/** The body of every REST error response: the tRPC error code, then the detail. */
export const restErrorBody = z.strictObject({
  code: z.string().describe('The tRPC error code, one per HTTP status: `NOT_FOUND` for 404, and so on.'),
  ...errorDetail.shape,
});
export type RestErrorBody = z.infer<typeof restErrorBody>;

type IssuePath = z.infer<typeof errorIssue>['path'];

/** The path of an issue as JSON carries it, down to the unknown key itself for a strict object. */
function pathOf(issue: z.core.$ZodIssue): IssuePath {
  const path =
    issue.code === 'unrecognized_keys' && issue.keys[0] !== undefined
      ? [...issue.path, issue.keys[0]]
      : issue.path;
  // Input read from JSON has no symbol keys; the type allows them.
  return path.map((key) => (typeof key === 'symbol' ? String(key) : key));
}

const dotted = (path: IssuePath) => path.map(String).join('.');

/**
 * What a caller learns of a failure, over tRPC and REST alike: zod's issues summed up with their paths, the field a
 * domain error names, and, in production, nothing of the code, the SQL or the data behind an unexpected failure.
 * Domain errors carry messages written for callers (see services/database-errors.ts), never the driver's text.
 */
export function describeError(error: TRPCError, production: boolean): ErrorDetail {
  if (production && error.code === 'INTERNAL_SERVER_ERROR') {
    return { message: 'Internal server error', field: null, issues: null };
  }
  const zodError = error.cause instanceof ZodError ? error.cause : undefined;
  // A rejected input is summed up field by field; a failed response check keeps tRPC's own message.
  if (zodError !== undefined && error.code === 'BAD_REQUEST') {
    const issues = zodError.issues.map((issue) => ({
      path: pathOf(issue),
      message: issue.message,
      code: issue.code,
    }));
    return {
      message: issues.map((issue) => `${dotted(issue.path) || 'input'}: ${issue.message}`).join('; '),
      // Stryker disable next-line OptionalChaining,ArrayDeclaration: zod rejects input with one issue at least.
      field: dotted(issues[0]?.path ?? []) || null,
      issues,
    };
  }
  const field = (error.cause as { field?: unknown } | undefined)?.field;
  return {
    message: error.message,
    field: typeof field === 'string' ? field : null,
    issues: zodError
      ? zodError.issues.map((issue) => ({ path: pathOf(issue), message: issue.message, code: issue.code }))
      : null,
  };
}
