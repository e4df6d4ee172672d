import { type Outcome, PermanentJobError } from './types';

/**
 * What a handler says about a job it did not finish, each kind with the policy the queue applies to it
 * (docs/flow-control.md): a snooze and the two deferrals give the attempt back and record no failure, a permanent
 * error fails the job at once, and any other error is retried with backoff while attempts remain.
 */

/**
 * Thrown by a handler (or by `helpers.snooze`): "not now, try again at `until`". The job is queued again then, its
 * attempt unspent, nothing recorded as a failure, `reason` shown on it (`waitReason: 'snoozed'`).
 */
export class SnoozeJob extends Error {
  override name = 'SnoozeJob';
  /** When the job is due again, on this worker's clock. */
  readonly until: Date;
  readonly reason: string | undefined;

  /** `after`: a time, or seconds from now. */
  constructor(after: Date | number, reason?: string) {
    const until = typeof after === 'number' ? new Date(Date.now() + after * 1_000) : new Date(after);
    if (Number.isNaN(until.getTime()) || (typeof after === 'number' && !(after >= 0))) {
      throw new RangeError(`a snooze needs a time or a number of seconds from now, not ${String(after)}`);
    }
    super(reason ?? `snoozed until ${until.toISOString()}`);
    this.until = until;
    this.reason = reason;
  }
}

/**
 * Thrown by a handler when YouTube responded with 429 or a temporary block: the job waits `retryAfterSeconds` (its
 * `Retry-After`; 60 without) with its attempt unspent, and its key cools down as long, or with `scope: 'type'` every
 * job of its type; a run of them opens the key's breaker.
 */
export class RateLimitedError extends Error {
  override name = 'RateLimitedError';
  readonly retryAfterSeconds: number | undefined;
  readonly scope: 'key' | 'type' | undefined;

  constructor(
    message = 'rate limited',
    options: { retryAfterSeconds?: number; scope?: 'key' | 'type'; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.scope = options.scope;
  }
}

/**
 * Thrown by a handler when YouTube responded with 403 `quotaExceeded`: the job type's budget is marked spent until its
 * reset, and the job waits for it with its attempt unspent. A type without a budget has none to exhaust: its job
 * is retried with backoff as after any other error.
 */
export class QuotaExhaustedError extends Error {
  override name = 'QuotaExhaustedError';

  constructor(message = 'quota exhausted', options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause });
  }
}

/** The seconds `jobs.fail` accepts for a rate limit: whole, from 1 to a day. */
const retryAfterRange = (seconds: number | undefined) =>
  seconds === undefined || !Number.isFinite(seconds)
    ? undefined
    : Math.min(86_400, Math.max(1, Math.ceil(seconds)));

/** What a handler that threw `thrown` reports, by the error's class. */
export function outcomeOfError(thrown: Error, unitsSpent: number | undefined): Outcome {
  const spent = unitsSpent === undefined ? {} : { unitsSpent };
  if (thrown instanceof SnoozeJob) {
    return { kind: 'snooze', until: thrown.until, reason: thrown.reason, ...spent };
  }
  if (thrown instanceof RateLimitedError) {
    const retryAfterSeconds = retryAfterRange(thrown.retryAfterSeconds);
    return {
      kind: 'fail',
      error: thrown,
      failure: 'rate_limited',
      ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
      ...(thrown.scope === undefined ? {} : { scope: thrown.scope }),
      ...spent,
    };
  }
  if (thrown instanceof QuotaExhaustedError)
    return { kind: 'fail', error: thrown, failure: 'quota_exhausted', ...spent };
  if (thrown instanceof PermanentJobError)
    return { kind: 'fail', error: thrown, failure: 'permanent', ...spent };
  return { kind: 'fail', error: thrown, failure: 'error', ...spent };
}
