import { TRPCError } from '@trpc/server';
import { translateDatabaseError, UnexpectedDatabaseError } from '../services/database-errors';
import { DomainError } from '../services/errors';

const codes = {
  not_found: 'NOT_FOUND',
  conflict: 'CONFLICT',
  invalid_input: 'BAD_REQUEST',
  unavailable: 'SERVICE_UNAVAILABLE',
} as const;

/**
 * The one place a failure becomes a response: a domain error the services threw, or a database error translated
 * into one (`translateDatabaseError`), becomes the matching tRPC code, keeping the domain error as `cause` so the
 * formatter can name the field. A database error no rule translates is a 500 that quotes no SQL; anything else
 * stays as it is (a 500).
 */
export function toTRPCError(error: TRPCError): TRPCError {
  const cause = error.cause instanceof DomainError ? error.cause : translateDatabaseError(error.cause);
  if (cause instanceof DomainError)
    return new TRPCError({ code: codes[cause.kind], message: cause.message, cause });
  if (cause instanceof UnexpectedDatabaseError)
    return new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: cause.message, cause });
  return error;
}

/** The codes of what Fastify rejects itself, by the status it gives them. */
const frameworkCodes: Record<number, TRPCError['code']> = {
  400: 'BAD_REQUEST',
  404: 'NOT_FOUND',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
};

/**
 * What Fastify rejects before a procedure runs (a path that does not decode, a path parameter past the router's
 * length, malformed JSON, another content type, a body too large) as the tRPC error both transports write in
 * their own shape. A parameter too long for the router is a rejected input like any other, a 400; anything else
 * Fastify raises is a 500.
 */
export function fromFrameworkError(error: {
  statusCode?: number;
  code?: string;
  message: string;
}): TRPCError {
  if (error.code === 'FST_ERR_MAX_PARAM_LENGTH')
    return new TRPCError({ code: 'BAD_REQUEST', message: 'a path parameter is too long' });
  const code = frameworkCodes[error.statusCode ?? 500];
  return code
    ? new TRPCError({ code, message: error.message })
    : new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: error.message, cause: error });
}
