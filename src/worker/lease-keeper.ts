import { asError, backoffMs, judge } from './calls';
import type { ClaimedJob, WorkerApi } from './types';

/**
 * Renews the lease of every job the worker holds: running, or finished with its outcome not yet acknowledged. A
 * lease is renewed every third of its length, so two renewals can fail before it runs out; one that fails for a
 * network reason is tried again soon, well before the lease ends. Only a rejection (the lease is no longer this
 * worker's) loses it.
 */
export interface LeaseKeeper {
  /** Starts renewing a job's lease, just claimed. */
  hold(job: ClaimedJob): void;
  /** Stops renewing it: its outcome was acknowledged, or it is left to run out. */
  letGo(jobId: string): void;
  /** Stops renewing every lease, and cuts off renewals in flight. */
  close(): void;
}

interface Lease {
  job: ClaimedJob;
  /** When the lease runs out, as far as this worker knows: from the last renewal it sent that was acknowledged. */
  expiresAt: number;
  timer: NodeJS.Timeout | undefined;
  /** Renewals that failed in a row. */
  failures: number;
}

/** The shortest wait before a renewal is tried again, so a lease already running out is not renewed in a tight loop. */
const minRetryMs = 100;

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
  // A renewal that hangs is given up on in time to try again before the lease ends.
  const renewalTimeoutMs = Math.min(Math.max(leaseMs / 4, 1_000), 30_000);
  const leases = new Map<string, Lease>();
  const closing = new AbortController();

  const renewIn = (lease: Lease, ms: number) => {
    lease.timer = setTimeout(() => renew(lease), ms);
  };

  const renew = (lease: Lease) => {
    const sentAt = Date.now();
    api.jobs.heartbeat
      .mutate(
        { id: lease.job.id, leaseToken: lease.job.leaseToken!, leaseSeconds },
        { signal: AbortSignal.any([closing.signal, AbortSignal.timeout(renewalTimeoutMs)]) },
      )
      .then(
        () => {
          if (leases.get(lease.job.id) !== lease) return;
          lease.failures = 0;
          lease.expiresAt = sentAt + leaseMs;
          renewIn(lease, renewEveryMs);
        },
        (error: unknown) => {
          if (leases.get(lease.job.id) !== lease) return;
          const verdict = judge(error);
          if (verdict.kind === 'rejected') {
            leases.delete(lease.job.id);
            settings.lost(lease.job, verdict.reason);
            return;
          }
          settings.error(asError(error));
          lease.failures += 1;
          const wanted =
            (verdict.kind === 'retry' ? verdict.afterMs : undefined) ?? backoffMs(lease.failures);
          // A Retry-After longer than the lease has left would let it lapse: the lease comes first.
          const left = lease.expiresAt - Date.now();
          renewIn(lease, left > 0 ? Math.max(minRetryMs, Math.min(wanted, left / 3)) : wanted);
        },
      );
  };

  return {
    hold(job) {
      const lease: Lease = { job, expiresAt: Date.now() + leaseMs, timer: undefined, failures: 0 };
      leases.set(job.id, lease);
      renewIn(lease, renewEveryMs);
    },
    letGo(jobId) {
      clearTimeout(leases.get(jobId)?.timer);
      leases.delete(jobId);
    },
    close() {
      for (const lease of leases.values()) clearTimeout(lease.timer);
      leases.clear();
      closing.abort();
    },
  };
}
