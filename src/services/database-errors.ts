import {
  CheckViolationError,
  DataError,
  ForeignKeyViolationError,
  NotNullViolationError,
  UniqueViolationError,
  wrapError,
} from 'db-errors';
import { ValidationError } from 'objection';
import { propertyOf } from '../models/columns';
import { ConflictError, InvalidInputError, UnavailableError } from './errors';

/** Input fields behind the database's named constraints, for messages that point at what to fix. */
const constraintFields: Record<string, string> = {
  channels_youtube_channel_id_key: 'youtubeChannelId',
  videos_youtube_video_id_key: 'youtubeVideoId',
  transcripts_video_id_language_source_key: 'language',
  videos_channel_id_fkey: 'channelId',
  transcripts_video_id_fkey: 'videoId',
  processing_jobs_session_id_fkey: 'sessionId',
  processing_jobs_one_active_per_entity: 'entityId',
  processing_jobs_attempts_within_max: 'maxAttempts',
  processing_jobs_job_type_fkey: 'entityType',
  processing_jobs_session_is_open: 'sessionId',
  processing_jobs_entity_exists: 'entityId',
};

/** Constraints whose rejection is best said in words of their own. */
const constraintMessages: Record<string, string> = {
  processing_jobs_job_type_fkey: 'the job type is unknown or is about the other kind of entity',
  processing_jobs_session_is_open: 'the session is finished and takes no new jobs',
};

/**
 * Constraints the schema's own functions raise, naming the row they miss in the error's detail as `<kind> <id>`
 * (src/queue/sql/enqueue_jobs.sql): a job's entity has no foreign key to name it, since it is a channel or a video.
 */
const raisedNamingTheRow = new Set(['processing_jobs_entity_exists']);

/** Constraints that reject a write for the state of other rows, not for its input: a conflict, not a 400. */
const stateConstraints = new Set(['processing_jobs_session_is_open']);

const parentNames: Record<string, string> = {
  channelId: 'channel',
  videoId: 'video',
  sessionId: 'processing session',
};

/** The column of a CHECK that PostgreSQL named itself (`<table>_<column>_check`), as an input field. */
function checkedColumn(table: string | undefined, constraint: string): string | undefined {
  const match = /^(.+)_check\d*$/.exec(constraint);
  if (!match || !table || !match[1]!.startsWith(`${table}_`)) return undefined;
  return propertyOf(match[1]!.slice(table.length + 1));
}

/**
 * The errors a failure carries, outermost first: Objection's `DBError` keeps the driver's error in `nativeError`,
 * other wrappers (a transaction's, an `ErrorOptions` cause) in `cause`.
 */
function errorsIn(thrown: unknown): object[] {
  const found: object[] = [];
  const pending = [thrown];
  while (pending.length > 0) {
    const error = pending.shift();
    if (typeof error !== 'object' || error === null || found.includes(error)) continue;
    found.push(error);
    const { nativeError, cause } = error as { nativeError?: unknown; cause?: unknown };
    pending.push(nativeError, cause);
  }
  return found;
}

const codeOf = (error: object): unknown => (error as { code?: unknown }).code;

/**
 * PostgreSQL's SQLSTATE: five digits or upper-case letters, the first two its class. No class begins with E, as
 * every Node system error code does (EPIPE has five letters too).
 */
const sqlStatePattern = /^[0-9A-DF-Z][0-9A-Z]{4}$/;

/** The SQLSTATE PostgreSQL sent with the failure, read from the driver's error wherever it is wrapped. */
function sqlStateOf(errors: object[]): string | undefined {
  for (const error of errors) {
    const code = codeOf(error);
    if (typeof code === 'string' && sqlStatePattern.test(code)) return code;
  }
  return undefined;
}

/** What PostgreSQL sent as the failure's detail, wherever the driver's error is wrapped. */
function detailOf(errors: object[]): string | undefined {
  for (const error of errors) {
    const { detail } = error as { detail?: unknown };
    if (typeof detail === 'string') return detail;
  }
  return undefined;
}

/** deadlock_detected, serialization_failure, lock_not_available: the work may succeed if run again. */
const transientCodes = new Set(['40P01', '40001', '55P03']);

/**
 * Class 08 (connection exception), class 57P (operator intervention: admin_shutdown, crash_shutdown,
 * cannot_connect_now, database_dropped, idle_session_timeout) and too_many_connections: the server cannot do the
 * work now, whatever the statement was.
 */
const unavailableState = (state: string) =>
  state.startsWith('08') || state.startsWith('57P') || state === '53300';

/** The socket to the server failed: Node's codes, with no SQLSTATE, since nothing reached PostgreSQL. */
const socketCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE']);

/**
 * What the driver and the pool say, with no code at all, when the connection is gone or none is free: pg's "Connection
 * terminated unexpectedly" (the server closed the socket), "... is not queryable" (a client used after that),
 * knex's "Timeout acquiring a connection".
 */
const unavailableMessages =
  /Timeout acquiring a connection|Connection terminated|Connection ended unexpectedly|not queryable/i;

function isUnavailable(errors: object[]): boolean {
  const state = sqlStateOf(errors);
  if (state !== undefined) return unavailableState(state);
  return errors.some((error) => {
    const code = codeOf(error);
    if (typeof code === 'string') return socketCodes.has(code);
    return error instanceof Error && unavailableMessages.test(error.message);
  });
}

/** How many times work that lost a race is run in all before its caller is told to retry. */
export const transientAttempts = 10;

/** Retries since the process started, by SQLSTATE: what the concurrency test and the logs report. */
export const transientRetries = new Map<string, number>();

/** The SQLSTATE of a failure that running the same work again may cure, or undefined. */
export function transientCode(error: unknown): string | undefined {
  const state = sqlStateOf(errorsIn(error));
  return state !== undefined && transientCodes.has(state) ? state : undefined;
}

/** Turns a database error into the domain error a caller can act on; anything else passes through unchanged. */
export function translateDatabaseError(thrown: unknown): unknown {
  if (!(thrown instanceof Error)) return thrown;
  // Objection wraps its own queries' errors; plain knex queries need the same done here.
  const error = wrapError(thrown);
  if (error instanceof ValidationError) {
    const field = Object.keys((error.data as Record<string, unknown> | undefined) ?? {})[0];
    return new InvalidInputError(error.message, field, { cause: error });
  }
  if (error instanceof UniqueViolationError) {
    const field = constraintFields[error.constraint] ?? propertyOf(error.columns.at(-1) ?? 'id');
    return new ConflictError(`${field} already exists`, field, { cause: error });
  }
  if (error instanceof ForeignKeyViolationError) {
    const field = constraintFields[error.constraint];
    const missing = raisedNamingTheRow.has(error.constraint)
      ? detailOf(errorsIn(thrown))
      : (parentNames[field ?? ''] ?? field);
    const message = constraintMessages[error.constraint] ?? `${missing} does not exist`;
    if (field) return new InvalidInputError(message, field, { cause: error });
    return new ConflictError('the row is still referenced by other rows', undefined, { cause: error });
  }
  if (error instanceof CheckViolationError) {
    const field = constraintFields[error.constraint] ?? checkedColumn(error.table, error.constraint);
    const message =
      constraintMessages[error.constraint] ?? `${field ?? 'the input'} breaks a rule of the data`;
    const Rejection = stateConstraints.has(error.constraint) ? ConflictError : InvalidInputError;
    return new Rejection(message, field, { cause: error });
  }
  if (error instanceof NotNullViolationError) {
    return new InvalidInputError(`${propertyOf(error.column)} is required`, propertyOf(error.column), {
      cause: error,
    });
  }
  // The driver's text quotes the statement; the caller gets a message of ours, the log keeps the cause.
  if (error instanceof DataError) {
    return new InvalidInputError('a value cannot be stored as given', undefined, { cause: error });
  }
  if (transientCode(thrown) !== undefined) {
    return new UnavailableError('the database is busy with concurrent writes; try again', undefined, {
      cause: error,
    });
  }
  // Objection's wrapper carries no code of its own and quotes the statement: the driver's error decides.
  if (isUnavailable(errorsIn(thrown))) {
    return new UnavailableError('the database is unavailable', undefined, { cause: error });
  }
  const state = sqlStateOf(errorsIn(thrown));
  if (state !== undefined) return new UnexpectedDatabaseError(state, { cause: error });
  return error;
}

/**
 * A failure PostgreSQL reported that no rule translates: a bug of ours, a 500 response. Its own text quotes the
 * statement, so the response (in development too) names only the SQLSTATE; the log keeps the cause.
 */
export class UnexpectedDatabaseError extends Error {
  override name = 'UnexpectedDatabaseError';

  constructor(
    readonly sqlState: string,
    options: ErrorOptions,
  ) {
    super(`an unexpected database error (SQLSTATE ${sqlState}); the server's log has its cause`, options);
  }
}
