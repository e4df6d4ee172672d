import { TRPCError } from '@trpc/server';
import { DomainError } from '../services/errors';

const codes = {
  not_found: 'NOT_FOUND',
  conflict: 'CONFLICT',
  invalid_input: 'BAD_REQUEST',
  unavailable: 'SERVICE_UNAVAILABLE',
} as const;

/** A domain error becomes the matching tRPC code, keeping the error as `cause` so the formatter can name the field. */
export function toTRPCError(error: TRPCError): TRPCError {
  const cause = error.cause;
  if (cause instanceof DomainError)
    return new TRPCError({ code: codes[cause.kind], message: cause.message, cause });
  return error;
}
