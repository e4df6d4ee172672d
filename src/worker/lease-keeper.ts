import { asError, backoffMs, judge } from './calls';
import type { ClaimedJob, WorkerApi } from './types';

/**
 * Renews the lease of every job the worker holds: running, or finished with its outcome not yet acknowledged. A
 * lease is renewed every third of its length, so two renewals can fail before it runs out; one that fails for a
 * network reason is tried again soon, well before the lease ends. Only a rejection (the lease is no longer this
 * worker's) loses it. Leases due within a quarter of that period are renewed together, in one request.
 */
export interface LeaseKeeper {
  /** Starts renewing a job's lease, which began at `leasedAt` (`Date.now()` time; now by default). */
  hold(job: ClaimedJob, leasedAt?: number): void;
  /** Stops renewing it: its outcome was acknowledged, or it is left to run out. */
  letGo(jobId: string): void;
  /** Stops renewing every lease, and cuts off renewals in flight; a lease held after it is not renewed. */
  close(): void;
}

interface Lease {
  job: ClaimedJob;
  /** When the lease runs out, as far as this worker knows: from the last renewal it sent that was acknowledged. */
  expiresAt: number;
  /** When to renew it next. */
  renewAt: number;
  /** A renewal of it is in flight. */
  sending: boolean;
  /** Renewals that failed in a row. */
  failures: number;
}

/** The shortest wait before a renewal is tried again, so a lease already running out is not renewed in a tight loop. */
const minRetryMs = 100;

/**
 * When to try again a renewal that failed at `now`: after `wantedMs` (the response's Retry-After, or the backoff),
 * but within a third of what the lease has left, so that more tries fit before it runs out; a Retry-After longer
 * than that would let it lapse. A lease already run out (as far as the worker knows) waits as it was told.
 */
export function renewalRetryAt(now: number, expiresAt: number, wantedMs: number): number {
  const left = expiresAt - now;
  return now + (left > 0 ? Math.max(minRetryMs, Math.min(wantedMs, left / 3)) : wantedMs);
}

export function createLeaseKeeper(settings: {
  api: WorkerApi;
  leaseSeconds: number;
  /** The lease was rejected: the job is no longer this worker's. */
  lost(job: ClaimedJob, reason: string): void;
  error(error: Error): void;
}): LeaseKeeper {
  const { api, leaseSeconds } = settings;
  const leaseMs = leaseSeconds * 1_000;
  const renewEveryMs = leaseMs / 3;
  // Renewing a lease a little early costs nothing, and lets leases claimed moments apart share a request.
  const earlyMs = renewEveryMs / 4;
  // A renewal that hangs is given up on in time to try again before the lease ends.
  const renewalTimeoutMs = Math.min(Math.max(leaseMs / 4, 1_000), 30_000);
  const leases = new Map<string, Lease>();
  const closing = new AbortController();
  let timer: NodeJS.Timeout | undefined;

  const schedule = () => {
    clearTimeout(timer);
    let next = Infinity;
    for (const lease of leases.values()) if (!lease.sending) next = Math.min(next, lease.renewAt);
    timer = next === Infinity ? undefined : setTimeout(renewDue, Math.max(0, next - Date.now()));
  };

  // A lease let go meanwhile is no longer in the map: what is written here is never read.
  const renewed = (lease: Lease, sentAt: number) => {
    lease.sending = false;
    lease.failures = 0;
    lease.expiresAt = sentAt + leaseMs;
    lease.renewAt = sentAt + renewEveryMs;
  };

  const failed = (lease: Lease, error: unknown) => {
    if (leases.get(lease.job.id) !== lease) return;
    lease.sending = false;
    const verdict = judge(error);
    if (verdict.kind === 'rejected') {
      leases.delete(lease.job.id);
      settings.lost(lease.job, verdict.reason);
      return;
    }
    lease.failures += 1;
    // Stryker disable next-line ConditionalExpression: narrows the type; only a retry verdict carries a wait.
    const wantedMs = (verdict.kind === 'retry' ? verdict.afterMs : undefined) ?? backoffMs(lease.failures);
    lease.renewAt = renewalRetryAt(Date.now(), lease.expiresAt, wantedMs);
    // Last: a hook that throws leaves the lease set to be tried again as planned.
    settings.error(asError(error));
  };

  const renew = (batch: Lease[]) => {
    const sentAt = Date.now();
    const signal = AbortSignal.any([closing.signal, AbortSignal.timeout(renewalTimeoutMs)]);
    // Calls made in one turn go to the API in one request (the typed client batches them).
    return Promise.all(
      batch.map((lease) =>
        api.jobs.heartbeat
          .mutate({ id: lease.job.id, leaseToken: lease.job.leaseToken, leaseSeconds }, { signal })
          .then(
            () => renewed(lease, sentAt),
            (error: unknown) => failed(lease, error),
          ),
      ),
    );
  };

  const renewDue = () => {
    const due = [...leases.values()].filter(
      // Stryker disable next-line EqualityOperator: a millisecond's difference.
      (lease) => !lease.sending && lease.renewAt <= Date.now() + earlyMs,
    );
    for (const lease of due) lease.sending = true;
    // Empty only when the lease the timer was armed for was let go meanwhile: then no call is made.
    void renew(due).finally(schedule);
    schedule();
  };

  return {
    hold(job, leasedAt = Date.now()) {
      if (closing.signal.aborted) return;
      leases.set(job.id, {
        job,
        expiresAt: leasedAt + leaseMs,
        renewAt: leasedAt + renewEveryMs,
        sending: false,
        failures: 0,
      });
      schedule();
    },
    letGo(jobId) {
      leases.delete(jobId);
    },
    close() {
      clearTimeout(timer);
      leases.clear();
      closing.abort();
    },
  };
}
