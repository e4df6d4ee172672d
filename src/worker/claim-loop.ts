import { setTimeout as sleep } from 'node:timers/promises';
import { asError, backoffMs, judge } from './calls';
import type { ClaimedJob, JobType, WorkerApi, WorkerHooks } from './types';

/**
 * Keeps the worker's slots full: a claim for every batch of free slots, up to `claimsAhead` at once, so the next
 * jobs are on their way while the last ones run and complete. An idle worker has one claim waiting (`waitMs`) for
 * all its slots, so it sends one request per wait.
 */
export interface ClaimLoop {
  start(): void;
  /** Slots may have come free: look again. */
  wake(): void;
  /** Stops claiming: claims that found work get a moment to respond, one still waiting for work is cut off. */
  stop(): Promise<void>;
}

/** The largest batch `jobs.claim` hands out. */
const maxBatch = 100;

/** Claims a worker keeps in flight at once. */
const claimsAhead = 2;

/** How long `stop()` lets claims in flight respond before cutting them off. */
const claimSettleMs = 250;

export function createClaimLoop(settings: {
  api: WorkerApi;
  workerId: string;
  jobTypes: JobType[];
  leaseSeconds: number;
  waitMs: number;
  hooks: WorkerHooks;
  /** Slots free for new jobs now. */
  freeSlots(): number;
  /** A job claimed, to run. */
  run(job: ClaimedJob): void;
  /** Jobs claimed as the stop began: released unstarted, for another worker to take at once. */
  release(jobs: ClaimedJob[]): void;
}): ClaimLoop {
  const { api, workerId, jobTypes, leaseSeconds, waitMs, hooks } = settings;
  const cutOff = new AbortController();
  /** Slots asked for by claims still in flight, so two claims never ask for the same slot. */
  let requested = 0;
  let inFlight = 0;
  /** Claims that failed in a row. */
  let failures = 0;
  let stopping = false;
  let loop: Promise<void> | undefined;
  let wakeLoop: (() => void) | undefined;

  const claim = async (limit: number) => {
    try {
      const jobs = await api.jobs.claim.mutate(
        { workerId, jobTypes, limit, leaseSeconds, waitMs },
        { signal: cutOff.signal },
      );
      failures = 0;
      if (stopping) settings.release(jobs);
      else {
        if (jobs.length === 0) hooks.idle?.();
        else hooks.claimed?.(jobs);
        for (const job of jobs) settings.run(job);
      }
    } catch (error) {
      if (stopping) return;
      hooks.error?.(asError(error));
      failures += 1;
      const verdict = judge(error);
      const waitMs = (verdict.kind === 'retry' ? verdict.afterMs : undefined) ?? backoffMs(failures);
      await sleep(waitMs, undefined, { signal: cutOff.signal }).catch(() => undefined);
    } finally {
      requested -= limit;
      inFlight -= 1;
      wakeLoop?.();
    }
  };

  const run = async () => {
    while (!stopping) {
      const free = Math.min(settings.freeSlots() - requested, maxBatch);
      if (free > 0 && inFlight < claimsAhead) {
        requested += free;
        inFlight += 1;
        void claim(free);
        continue;
      }
      await new Promise<void>((resolve) => (wakeLoop = resolve));
      wakeLoop = undefined;
      // Handlers that finish in the same turn free their slots together: one claim for all of them.
      await new Promise(setImmediate);
    }
    while (inFlight > 0) await new Promise<void>((resolve) => (wakeLoop = resolve));
  };

  return {
    start() {
      loop ??= run();
    },
    wake() {
      wakeLoop?.();
    },
    async stop() {
      stopping = true;
      wakeLoop?.();
      // A claim that found work responds within moments; only one still waiting for work is cut off. (The API
      // releases what it leases to a claim cut off mid-way.)
      const claimsBy = Date.now() + claimSettleMs;
      while (inFlight > 0 && Date.now() < claimsBy) await sleep(10);
      cutOff.abort();
      await loop;
    },
  };
}
