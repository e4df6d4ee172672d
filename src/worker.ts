import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { TRPCClientError } from '@trpc/client';
import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import type { AppRouter } from './api/router';
import { createClient } from './typed-client';

type Outputs = inferRouterOutputs<AppRouter>;
type Inputs = inferRouterInputs<AppRouter>;

/** A job as a worker receives it from `jobs.claim`: running, with its lease token. */
export type ClaimedJob = Outputs['jobs']['claim'][number];
export type JobType = ClaimedJob['jobType'];
/** What a handler may return: stored as the job's `result`. */
export type JobResult = Inputs['jobs']['complete']['result'];

/** A claimed job of one type, as that type's handler receives it. */
export type JobOf<T extends JobType> = ClaimedJob & { jobType: T };

export interface TaskHelpers {
  /**
   * Aborts when the job is no longer this worker's to finish: its lease was lost (another worker took it over,
   * or an admin cancelled it) or the worker is stopping past its grace period. Whatever the handler returns
   * afterwards is dropped, never recorded.
   */
  signal: AbortSignal;
  workerId: string;
  /** The typed client the worker calls the API with, for the writes a job makes (videos, transcripts). */
  api: ReturnType<typeof createClient>;
}

export type Task<T extends JobType> = (job: JobOf<T>, helpers: TaskHelpers) => Promise<JobResult> | JobResult;
export type Tasks = { [T in JobType]?: Task<T> };

/** Thrown by a handler, fails its job for good: no retry is spent on an error that would only repeat. */
export class PermanentJobError extends Error {
  override name = 'PermanentJobError';
}

/** The reason a handler's signal aborts with when its lease is lost. */
export class LeaseLostError extends Error {
  override name = 'LeaseLostError';
}

/** Callbacks for operators: enough to log and count what a worker does. */
export interface WorkerHooks {
  claimed?(jobs: ClaimedJob[]): void;
  completed?(job: ClaimedJob, durationMs: number): void;
  failed?(job: ClaimedJob, error: Error, permanent: boolean): void;
  /** Once per job whose lease was lost; its result, if any, was dropped. */
  leaseLost?(job: ClaimedJob, reason: string): void;
  /** Jobs handed back at stop, queued again for other workers. */
  released?(jobs: ClaimedJob[]): void;
  /** A claim that waited and found nothing. */
  idle?(): void;
  /** A call that failed for another reason (the API unreachable, say); the worker carries on. */
  error?(error: Error): void;
}

export interface WorkerOptions {
  /** The API's base URL. */
  url: string;
  /** A token with the `worker` (or `admin`) role, when the API has tokens. */
  token?: string;
  /** Shown as the jobs' `lockedBy`; host, process and a random suffix by default. */
  workerId?: string;
  /** Handlers run at once, at most; a claim asks for as many jobs as there are free slots. */
  concurrency: number;
  tasks: Tasks;
  /** A claim's lease; each running job is heartbeated every third of it. Default 60. */
  leaseSeconds?: number;
  /** How long an idle claim waits for work before asking again. Default 30,000 (the most the API allows). */
  waitMs?: number;
  /** How long `stop()` lets running handlers finish before it aborts them. Default 10,000. */
  graceMs?: number;
  hooks?: WorkerHooks;
}

export interface Worker {
  readonly workerId: string;
  /** Handlers running now. */
  readonly running: number;
  start(): void;
  /**
   * Stops claiming, lets running handlers finish within the grace period, then aborts the rest: what finishes
   * anyway is completed, what gives up (rejects) is handed back (`jobs.release`) so another worker takes it at
   * once without spending an attempt, and a handler that ignores its signal keeps its job until the lease runs
   * out, so no job runs twice.
   */
  stop(): Promise<void>;
}

interface Active {
  job: ClaimedJob;
  controller: AbortController;
  heartbeat: NodeJS.Timeout;
  started: number;
  /** Lost its lease, or kept past the stop: its outcome is not recorded. */
  done: boolean;
  /** Asked to stop by `stop()`: if it gives up (rejects), its job is handed back rather than failed. */
  stopping?: boolean;
}

/**
 * How long handlers aborted by `stop()` get to settle: one that finished its work anyway is completed, one that
 * gave up is handed back. One still running after this keeps its job until its lease runs out, since handing it
 * back while it may still write would let the job run twice.
 */
const stopSettleMs = 2_000;

/** How long `stop()` lets claims in flight answer before cutting them off. */
const claimSettleMs = 250;

/** The API's answer for a lease that is no longer the caller's. */
const leaseRefusal = (error: unknown): string | undefined =>
  error instanceof TRPCClientError && (error.data?.code === 'CONFLICT' || error.data?.code === 'NOT_FOUND')
    ? error.message
    : undefined;

const asError = (error: unknown) => (error instanceof Error ? error : new Error(String(error)));

/** The largest batch `jobs.completeMany` takes, and `jobs.claim` hands out. */
const maxBatch = 100;

/** Claims a worker keeps in flight at once. */
const claimsAhead = 2;

/**
 * A worker over the typed client: claims as many jobs as it has free slots in one call (waiting for work when
 * there is none, so an idle worker sends one request per `waitMs`), runs their handlers concurrently, heartbeats
 * each before its lease runs out, completes finished jobs in batches, and fails a throwing handler's job with its
 * message. The lease token fences it: a job taken over by another worker aborts this one's signal, and nothing
 * this worker does with it afterwards is recorded.
 */
export function createWorker(options: WorkerOptions): Worker {
  const api = createClient({ url: options.url, token: options.token });
  const workerId = options.workerId ?? `${os.hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  const leaseSeconds = options.leaseSeconds ?? 60;
  const waitMs = options.waitMs ?? 30_000;
  const graceMs = options.graceMs ?? 10_000;
  const hooks = options.hooks ?? {};
  const jobTypes = Object.keys(options.tasks) as JobType[];
  const active = new Map<string, Active>();
  const finished: { entry: Active; result: JobResult }[] = [];
  /** Jobs whose handlers gave up when `stop()` aborted them: to go back to the queue. */
  const handedBack: ClaimedJob[] = [];
  const inFlight = new Set<Promise<unknown>>();
  let flushQueued = false;
  let stopping = false;
  let loop: Promise<void> | undefined;
  let stopped: Promise<void> | undefined;
  let claimAbort: AbortController | undefined;
  let wakeLoop: (() => void) | undefined;

  const track = (promise: Promise<unknown>) => {
    inFlight.add(promise);
    void promise.finally(() => inFlight.delete(promise));
  };

  const release = (entry: Active) => {
    clearInterval(entry.heartbeat);
    active.delete(entry.job.id);
    wakeLoop?.();
  };

  const loseLease = (entry: Active, reason: string) => {
    if (entry.done) return;
    entry.done = true;
    entry.controller.abort(new LeaseLostError(reason));
    hooks.leaseLost?.(entry.job, reason);
  };

  const flush = () => {
    flushQueued = false;
    const batch = finished.splice(0, maxBatch);
    if (finished.length > 0) queueFlush();
    if (batch.length === 0) return;
    const byId = new Map(batch.map(({ entry }) => [entry.job.id, entry]));
    track(
      api.jobs.completeMany
        .mutate({
          jobs: batch.map(({ entry, result }) => ({
            id: entry.job.id,
            leaseToken: entry.job.leaseToken!,
            ...(result === undefined ? {} : { result }),
          })),
        })
        .then(
          ({ completed, refused }) => {
            for (const job of completed) {
              const entry = byId.get(job.id)!;
              hooks.completed?.(entry.job, performance.now() - entry.started);
            }
            for (const { id, reason } of refused) {
              const entry = byId.get(id)!;
              entry.done = false;
              loseLease(entry, reason);
            }
          },
          (error: unknown) => hooks.error?.(asError(error)),
        ),
    );
  };

  const queueFlush = () => {
    if (flushQueued) return;
    flushQueued = true;
    // Results that finish in the same turn of the event loop go in one call.
    setImmediate(flush);
  };

  const fail = (entry: Active, thrown: unknown) => {
    const error = asError(thrown);
    const permanent = error instanceof PermanentJobError;
    track(
      api.jobs.fail
        .mutate({
          id: entry.job.id,
          leaseToken: entry.job.leaseToken!,
          error: (error.message || error.name).slice(0, 10_000),
          retryable: !permanent,
        })
        .then(
          () => hooks.failed?.(entry.job, error, permanent),
          (refused: unknown) => {
            const reason = leaseRefusal(refused);
            if (reason) loseLease(entry, reason);
            else hooks.error?.(asError(refused));
          },
        ),
    );
  };

  const run = (job: ClaimedJob) => {
    const entry: Active = {
      job,
      controller: new AbortController(),
      started: performance.now(),
      done: false,
      heartbeat: setInterval(
        () => {
          api.jobs.heartbeat
            .mutate({ id: job.id, leaseToken: job.leaseToken!, leaseSeconds })
            .catch((error) => {
              const reason = leaseRefusal(error);
              if (reason) loseLease(entry, reason);
              else hooks.error?.(asError(error));
            });
        },
        (leaseSeconds * 1_000) / 3,
      ),
    };
    active.set(job.id, entry);
    const task = options.tasks[job.jobType] as Task<JobType>;
    Promise.resolve()
      .then(() => task(job, { signal: entry.controller.signal, workerId, api }))
      .then(
        (result) => {
          release(entry);
          if (entry.done) return;
          finished.push({ entry, result });
          queueFlush();
        },
        (error: unknown) => {
          release(entry);
          if (entry.done) return;
          if (entry.stopping) handedBack.push(entry.job);
          else fail(entry, error);
        },
      );
  };

  /** Slots asked for by claims still in flight, so two claims never ask for the same slot. */
  let requested = 0;
  let claimsInFlight = 0;
  let pause = 0;

  const claim = async (limit: number) => {
    claimAbort ??= new AbortController();
    try {
      const jobs = await api.jobs.claim.mutate(
        { workerId, jobTypes, limit, leaseSeconds, waitMs },
        { signal: claimAbort.signal },
      );
      pause = 0;
      if (stopping) {
        // Claimed as the stop began: handed back unstarted, for another worker to take at once.
        handedBack.push(...jobs);
        return;
      }
      if (jobs.length === 0) hooks.idle?.();
      else hooks.claimed?.(jobs);
      for (const job of jobs) run(job);
    } catch (error) {
      if (stopping) return;
      hooks.error?.(asError(error));
      pause = Math.min(pause * 2 || 250, 10_000);
      await sleep(pause);
    } finally {
      requested -= limit;
      claimsInFlight -= 1;
      wakeLoop?.();
    }
  };

  /**
   * Keeps the slots full: a claim for every batch of free slots, up to `claimsAhead` at once, so the next jobs
   * are on their way while the last ones run and complete. An idle worker has one claim waiting for all its slots.
   */
  const claimLoop = async () => {
    while (!stopping) {
      const free = Math.min(options.concurrency - active.size - requested, maxBatch);
      if (free > 0 && claimsInFlight < claimsAhead) {
        requested += free;
        claimsInFlight += 1;
        void claim(free);
        continue;
      }
      await new Promise<void>((resolve) => (wakeLoop = resolve));
      wakeLoop = undefined;
      // Handlers that finish in the same turn free their slots together: one claim for all of them.
      await new Promise(setImmediate);
    }
    while (claimsInFlight > 0) await new Promise<void>((resolve) => (wakeLoop = resolve));
  };

  const stop = async () => {
    stopping = true;
    wakeLoop?.();
    // A claim that found work answers within moments; only one still waiting for work is cut off. (The API
    // hands back what it leases to a claim cut off mid-way.)
    const claimsBy = Date.now() + claimSettleMs;
    while (claimsInFlight > 0 && Date.now() < claimsBy) await sleep(10);
    claimAbort?.abort();
    await loop;
    const deadline = Date.now() + graceMs;
    while (active.size > 0 && Date.now() < deadline) {
      await Promise.race([
        sleep(Math.min(50, deadline - Date.now())),
        new Promise<void>((r) => (wakeLoop = r)),
      ]);
    }
    // Past the grace: the rest are asked to stop, and get a moment to settle.
    for (const entry of active.values()) {
      entry.stopping = true;
      entry.controller.abort(new Error('the worker is stopping'));
    }
    const settleBy = Date.now() + stopSettleMs;
    while (active.size > 0 && Date.now() < settleBy) {
      await Promise.race([
        sleep(Math.min(50, settleBy - Date.now())),
        new Promise<void>((r) => (wakeLoop = r)),
      ]);
    }
    // Handlers that ignore their signal keep their jobs, unrecorded, until the leases run out.
    for (const entry of [...active.values()]) {
      entry.done = true;
      release(entry);
    }
    flush();
    const returned = await Promise.all(
      handedBack.splice(0).map((job) =>
        api.jobs.release.mutate({ id: job.id, leaseToken: job.leaseToken! }).then(
          () => job,
          (error: unknown) => {
            if (!leaseRefusal(error)) hooks.error?.(asError(error));
            return undefined;
          },
        ),
      ),
    );
    const released = returned.filter((job) => job !== undefined);
    if (released.length > 0) hooks.released?.(released);
    while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
  };

  return {
    workerId,
    get running() {
      return active.size;
    },
    start() {
      if (loop || stopping) return;
      if (jobTypes.length === 0) throw new Error('createWorker: tasks names no job type');
      loop = claimLoop();
    },
    stop() {
      stopped ??= stop();
      return stopped;
    },
  };
}
