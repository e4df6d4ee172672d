import { setTimeout as sleep } from 'node:timers/promises';
import { asError, backoffMs, judge } from './calls';
import { createPace, createSmoothed } from './pace';
import type { ClaimedJob, JobType, WorkerApi, WorkerHooks } from './types';

/**
 * Keeps the worker's slots full, and a local queue of claimed jobs behind them, so that a slot that frees starts
 * its next job at once instead of after a claim's round trip. A claim goes out as soon as half the local queue has
 * room, up to `claimsAhead` at once, so the next batch is on its way before the queue runs dry. An idle worker has
 * one claim waiting (`waitMs`) for all its room, so it sends one request per wait.
 *
 * Unless the worker fixes its size, the local queue holds what the handlers start in a few claims' round trips at
 * their recent pace while claims come back full, and never less than a slot's worth each: short jobs get large
 * claims, whose cost per job is a fraction of small ones', while long jobs are not held back from other workers.
 *
 * A job waiting in the local queue holds a lease nobody renews: one that cannot start within a third of its lease
 * (its worker's handlers all busy for that long) is released, queued again at once without spending its attempt,
 * for a worker with a free slot to take. It could not start later anyway without risking its lease. The worker
 * then claims only for free slots until a handler finishes, rather than claim the job back.
 */
export interface ClaimLoop {
  start(): void;
  /** Slots may have come free: start what waits, and claim again. */
  wake(): void;
  /**
   * Stops claiming and releases what waits: claims that found work get a moment to respond, one still waiting for
   * work is cut off.
   */
  stop(): Promise<void>;
}

/** The largest batch `jobs.claim` hands out. */
const maxBatch = 100;

/** Claims a worker keeps in flight at once. */
const claimsAhead = 2;

/** The most an adaptive local queue holds: as much as the claims in flight bring. */
const maxAdaptivePrefetch = claimsAhead * maxBatch;

/**
 * An adaptive local queue covers what the handlers start in this many claims' round trips, and in `aheadMs` at
 * least: a queue sized by round trips alone settles on small claims, whose round trips are short.
 */
const roundTripsAhead = 4;
const aheadMs = 100;
/** The longest round trip a claim is counted as taking. */
const maxRoundTripMs = 1_000;

/** How long `stop()` lets claims in flight respond before cutting them off. */
const claimSettleMs = 250;

interface Waiting {
  job: ClaimedJob;
  /** When its claim responded (`Date.now()` time): its lease runs from about then. */
  leasedAt: number;
}

export function createClaimLoop(settings: {
  api: WorkerApi;
  workerId: string;
  jobTypes: JobType[];
  leaseSeconds: number;
  waitMs: number;
  hooks: WorkerHooks;
  /** Handlers run at once, at most. */
  concurrency: number;
  /** Claimed jobs kept waiting for a slot, at most; by default as many as the recent pace needs. */
  prefetch: number | undefined;
  /** Slots taken now: handlers running, and outcomes the API has not taken yet. */
  busy(): number;
  /** Starts a claimed job in a free slot; `leasedAt` is when its lease began, as far as the worker knows. */
  run(job: ClaimedJob, leasedAt: number): void;
  /** Releases a claimed job unstarted, for another worker to take at once. */
  release(job: ClaimedJob, leasedAt: number): void;
}): ClaimLoop {
  const { api, workerId, jobTypes, leaseSeconds, waitMs, hooks, concurrency } = settings;
  const startWithinMs = (leaseSeconds * 1_000) / 3;
  const starts = createPace();
  const roundTrip = createSmoothed();
  /**
   * The last claim brought all it asked for: work is waiting. Only then does the queue grow with the pace, so a
   * worker whose queue ran dry waits for work with a slot's worth asked for, not the size of a past burst.
   */
  let saturated = false;
  const prefetch = () =>
    settings.prefetch ??
    (saturated
      ? Math.max(
          concurrency,
          Math.min(
            maxAdaptivePrefetch,
            Math.ceil(starts.perMs() * Math.max(aheadMs, roundTrip.value() * roundTripsAhead)),
          ),
        )
      : concurrency);
  const cutOff = new AbortController();
  /** Claimed jobs waiting for a slot, highest priority first, in claim order within a priority. */
  let queue: Waiting[] = [];
  /** Jobs asked for by claims still in flight, so two claims never ask for the same room. */
  let requested = 0;
  let inFlight = 0;
  /** Claims that failed in a row. */
  let failures = 0;
  let stopping = false;
  let loop: Promise<void> | undefined;
  let wakeLoop: (() => void) | undefined;
  let lateTimer: NodeJS.Timeout | undefined;
  /** Off from a release for lateness until a slot frees. */
  let prefetching = true;

  const room = () =>
    concurrency + (prefetching ? prefetch() : 0) - settings.busy() - queue.length - requested;
  // Small claims cost nearly as much as large ones: wait until half the local queue has room (all of a slot's
  // worth without one).
  const claimFrom = () => Math.max(1, Math.ceil(prefetch() / 2));

  const late = (waiting: Waiting, now: number) => now - waiting.leasedAt >= startWithinMs;

  /** Releases what waited too long to start safely, then looks again when the next one would have. */
  const releaseLate = () => {
    lateTimer = undefined;
    const now = Date.now();
    const released = queue.filter((item) => late(item, now));
    if (released.length > 0) prefetching = false;
    for (const waiting of released) settings.release(waiting.job, waiting.leasedAt);
    queue = queue.filter((item) => !late(item, now));
    watchLate();
  };

  const watchLate = () => {
    if (lateTimer || queue.length === 0) return;
    const first = Math.min(...queue.map((waiting) => waiting.leasedAt));
    lateTimer = setTimeout(releaseLate, first + startWithinMs - Date.now());
  };

  /** Fills free slots from the local queue; a job too late to start is released instead. */
  const dispatch = () => {
    const now = Date.now();
    if (settings.busy() < concurrency) prefetching = true;
    while (queue.length > 0 && settings.busy() < concurrency) {
      const { job, leasedAt } = queue.shift()!;
      if (now - leasedAt >= startWithinMs) settings.release(job, leasedAt);
      else {
        starts.add(1);
        settings.run(job, leasedAt);
      }
    }
  };

  const claim = async (limit: number) => {
    try {
      const sent = performance.now();
      const expectedWork = saturated;
      const jobs = await api.jobs.claim.mutate(
        { workerId, jobTypes, limit, leaseSeconds, waitMs },
        { signal: cutOff.signal },
      );
      const leasedAt = Date.now();
      failures = 0;
      // A claim sent while work was waiting measures the round trip; one that may have waited for work would
      // overstate it. Capped, so one slow response cannot hold the queue large for long.
      if (expectedWork && jobs.length === limit)
        roundTrip.add(Math.min(maxRoundTripMs, performance.now() - sent));
      saturated = jobs.length === limit;
      if (stopping) {
        for (const job of jobs) settings.release(job, leasedAt);
        return;
      }
      if (jobs.length === 0) hooks.idle?.();
      else hooks.claimed?.(jobs);
      queue.push(...jobs.map((job) => ({ job, leasedAt })));
      queue.sort((a, b) => b.job.priority - a.job.priority);
      dispatch();
      watchLate();
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
      const wanted = Math.min(room(), maxBatch);
      if (wanted >= claimFrom() && inFlight < claimsAhead) {
        requested += wanted;
        inFlight += 1;
        void claim(wanted);
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
      if (stopping) return;
      dispatch();
      wakeLoop?.();
    },
    async stop() {
      stopping = true;
      wakeLoop?.();
      clearTimeout(lateTimer);
      for (const { job, leasedAt } of queue.splice(0)) settings.release(job, leasedAt);
      // A claim that found work responds within moments; only one still waiting for work is cut off. (The API
      // releases what it leases to a claim cut off mid-way.)
      const claimsBy = Date.now() + claimSettleMs;
      while (inFlight > 0 && Date.now() < claimsBy) await sleep(10);
      cutOff.abort();
      await loop;
    },
  };
}
