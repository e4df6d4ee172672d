import type { TRPCError } from '@trpc/server';
import { ZodError, type z } from 'zod';

/** What a 503 (database unreachable, or busy past its retries) tells the caller to wait, in seconds. */
export const retryAfterSeconds = '1';

export interface ErrorDetail {
  message: string;
  /** The input field at fault, when one is: a dotted path such as `videos.3.title`. */
  field: string | null;
  /** zod's issues when the input was refused, each with its path. */
  issues: { path: PropertyKey[]; message: string; code: string }[] | null;
}

/** The path of an issue, down to the unknown key itself for a strict object. */
function pathOf(issue: z.core.$ZodIssue): PropertyKey[] {
  return issue.code === 'unrecognized_keys' && issue.keys[0] !== undefined
    ? [...issue.path, issue.keys[0]]
    : issue.path;
}

const dotted = (path: PropertyKey[]) => path.map(String).join('.');

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
  // A refused input is summed up field by field; a failed answer check keeps tRPC's own message.
  if (zodError !== undefined && error.code === 'BAD_REQUEST') {
    const issues = zodError.issues.map((issue) => ({
      path: pathOf(issue),
      message: issue.message,
      code: issue.code,
    }));
    return {
      message: issues.map((issue) => `${dotted(issue.path) || 'input'}: ${issue.message}`).join('; '),
      // Stryker disable next-line OptionalChaining,ArrayDeclaration: zod refuses input with one issue at least.
      field: dotted(issues[0]?.path ?? []) || null,
      issues,
    };
  }
  const field = (error.cause as { field?: unknown } | undefined)?.field;
  return {
    message: error.message,
    field: typeof field === 'string' ? field : null,
    issues: zodError ? zodError.issues.map(({ path, message, code }) => ({ path, message, code })) : null,
  };
}
