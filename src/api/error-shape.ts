import type { TRPCError } from '@trpc/server';
import { ZodError } from 'zod';

export interface ErrorDetail {
  message: string;
  /** The input field at fault, when one is. */
  field: string | null;
  /** zod's issues when the input was refused, each with its path. */
  issues: { path: PropertyKey[]; message: string; code: string }[] | null;
}

/**
 * What a caller learns of a failure, over tRPC and REST alike: zod's issues summed up with their paths, the field a
 * domain error names, and, in production, nothing of the code or the SQL behind an unexpected failure.
 */
export function describeError(error: TRPCError, production: boolean): ErrorDetail {
  const zodError = error.cause instanceof ZodError ? error.cause : undefined;
  const field = (error.cause as { field?: unknown } | undefined)?.field;
  const hideDetail = production && error.code === 'INTERNAL_SERVER_ERROR';
  return {
    message: hideDetail
      ? 'Internal server error'
      : zodError
        ? zodError.issues.map((issue) => `${issue.path.join('.') || 'input'}: ${issue.message}`).join('; ')
        : error.message,
    field: typeof field === 'string' ? field : null,
    issues: zodError ? zodError.issues.map(({ path, message, code }) => ({ path, message, code })) : null,
  };
}
