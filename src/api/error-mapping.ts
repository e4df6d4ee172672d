import { TRPCError } from '@trpc/server';
import { translateDatabaseError } from '../services/database-errors';
import { DomainError } from '../services/errors';

const codes = {
  not_found: 'NOT_FOUND',
  conflict: 'CONFLICT',
  invalid_input: 'BAD_REQUEST',
  unavailable: 'SERVICE_UNAVAILABLE',
} as const;

/**
 * The one place a failure becomes an answer: a domain error the services threw, or a database error translated
 * into one (`translateDatabaseError`), becomes the matching tRPC code, keeping the domain error as `cause` so the
 * formatter can name the field. Anything else stays as it is (a 500).
 */
export function toTRPCError(error: TRPCError): TRPCError {
  const cause = error.cause instanceof DomainError ? error.cause : translateDatabaseError(error.cause);
  if (cause instanceof DomainError)
    return new TRPCError({ code: codes[cause.kind], message: cause.message, cause });
  return error;
}
