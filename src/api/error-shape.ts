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
 * domain error names, and, in production, nothing of the code, the SQL or the data behind an unexpected failure.
 */
export function describeError(error: TRPCError, production: boolean): ErrorDetail {
  if (production && error.code === 'INTERNAL_SERVER_ERROR') {
    return { message: 'Internal server error', field: null, issues: null };
  }
  const zodError = error.cause instanceof ZodError ? error.cause : undefined;
  const field = (error.cause as { field?: unknown } | undefined)?.field;
  // A refused input is summed up field by field; a failed answer check keeps tRPC's own message.
  const inputRefused = zodError !== undefined && error.code === 'BAD_REQUEST';
  return {
    message: inputRefused
      ? zodError.issues.map((issue) => `${issue.path.join('.') || 'input'}: ${issue.message}`).join('; ')
      : error.message,
    field: typeof field === 'string' ? field : null,
    issues: zodError ? zodError.issues.map(({ path, message, code }) => ({ path, message, code })) : null,
  };
}
