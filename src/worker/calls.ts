import { TRPCClientError } from '@trpc/client';
import type { AppRouter } from '../api/router';
import { TransportError } from '../client/typed-client';

/** What a failed call says about sending it again. */
export type Verdict =
  /** The lease is no longer the worker's: the job was claimed again, cancelled or deleted. Final. */
  | { kind: 'rejected'; reason: string }
  /** The API rejected the request itself (its input, its size): the same request would be rejected again. */
  | { kind: 'invalid'; reason: string }
  /**
   * Anything else (the API unreachable, a connection reset, a 503 while the database restarts) is a fact about the
   * network, not about the job: send it again, after `afterMs` when the response said how long to wait.
   */
  | { kind: 'retry'; afterMs: number | undefined };

/** Statuses that reject what was sent, whoever sends it and however often. */
const invalidStatuses = new Set<number | undefined>([400, 413, 422]);

export function judge(error: unknown): Verdict {
  // Stryker disable next-line ConditionalExpression: narrows the type; any other error has no data and is retried.
  if (error instanceof TRPCClientError) {
    const { data } = error as TRPCClientError<AppRouter>;
    if (data?.code === 'CONFLICT' || data?.code === 'NOT_FOUND')
      return { kind: 'rejected', reason: error.message };
    // Stryker disable next-line OptionalChaining: an error the client raises without data is a TransportError.
    const status = error instanceof TransportError ? error.httpStatus : data?.httpStatus;
    if (invalidStatuses.has(status)) return { kind: 'invalid', reason: error.message };
  }
  return { kind: 'retry', afterMs: retryAfterMs(error) };
}

/**
 * The three forms of an HTTP date (RFC 9110, section 5.6.7), all in GMT: IMF-fixdate, the obsolete RFC 850 form
 * and asctime's, which names no zone. `Date.parse` reads far more (numbers such as "1.5", "May 5"), as dates long
 * past, so only these are given to it.
 */
const httpDate =
  /^(?:[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT|[A-Z][a-z]{5,8}, \d\d-[A-Z][a-z]{2}-\d\d \d\d:\d\d:\d\d GMT|[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4})$/;

/** The longest wait a `Retry-After` sets: the worker looks again at least this often, whatever a proxy says. */
const maxRetryAfterMs = 10 * 60_000;

/**
 * The response's `Retry-After` (seconds, or an HTTP date), when the call got a response: the typed client keeps it
 * on the error's `meta`, a server's errors and `TransportError`s alike. Anything else means the usual backoff.
 */
function retryAfterMs(error: unknown): number | undefined {
  // Stryker disable next-line ConditionalExpression: narrows the type; any other error has no response.
  if (!(error instanceof TRPCClientError)) return undefined;
  const { response } = (error.meta ?? {}) as { response?: unknown };
  // Header values come trimmed (the Fetch standard's normalization).
  const value = response instanceof Response ? response.headers.get('retry-after') : null;
  // Stryker disable next-line ConditionalExpression: narrows the type; no pattern below matches "null".
  if (value === null) return undefined;
  if (/^\d+$/.test(value)) return Math.min(maxRetryAfterMs, Number(value) * 1_000);
  if (!httpDate.test(value)) return undefined;
  const at = Date.parse(value.endsWith(' GMT') ? value : `${value} GMT`);
  return Number.isNaN(at) ? undefined : Math.min(maxRetryAfterMs, Math.max(0, at - Date.now()));
}

/**
 * How long to wait before the next try after `tries` failed ones: 250 ms doubling up to `maxMs`, spread by ±20% so
 * that workers cut off together do not come back together.
 */
export function backoffMs(tries: number, maxMs = 10_000): number {
  const base = Math.min(250 * 2 ** Math.max(0, tries - 1), maxMs);
  return base * (0.8 + Math.random() * 0.4);
}

export const asError = (error: unknown): Error => (error instanceof Error ? error : new Error(String(error)));

/** Wakes whoever waits for a part of the worker to change (a handler settling, an outcome acknowledged). */
export class Changes {
  private waiters: (() => void)[] = [];

  notify(): void {
    for (const wake of this.waiters.splice(0)) wake();
  }

  /** Resolves at the next change, or after `ms`. */
  next(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((waiter) => waiter !== wake);
        resolve();
      };
      const timer = setTimeout(wake, Math.max(0, ms));
      this.waiters.push(wake);
    });
  }
}
