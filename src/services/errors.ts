/** What went wrong, in the terms of the data, not of HTTP or tRPC; the API maps each kind to a status. */
export abstract class DomainError extends Error {
  abstract readonly kind: 'not_found' | 'conflict' | 'invalid_input' | 'unavailable';
  /** The input field the problem is about, when there is one. */
  readonly field: string | undefined;

  constructor(message: string, field?: string, options?: ErrorOptions) {
    super(message, options);
    this.field = field;
  }
}

/** The row asked for does not exist. */
export class NotFoundError extends DomainError {
  readonly kind = 'not_found';
  override name = 'NotFoundError';

  constructor(entity: string, id: string, field = 'id') {
    super(`${entity} ${id} not found`, field);
  }
}

/** The write clashes with the current state: a duplicate key, an illegal transition, a stale lease. */
export class ConflictError extends DomainError {
  readonly kind = 'conflict';
  override name = 'ConflictError';
}

/** The input breaks a rule only the database could check, or names a parent row that does not exist. */
export class InvalidInputError extends DomainError {
  readonly kind = 'invalid_input';
  override name = 'InvalidInputError';
}

/** The database cannot be reached or did not respond in time; the caller may retry. */
export class UnavailableError extends DomainError {
  readonly kind = 'unavailable';
  override name = 'UnavailableError';
}
