import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { createClient } from '../client/typed-client';
import { createAcknowledgements } from './acknowledgements';
import { asError, Changes } from './calls';
import { createClaimLoop } from './claim-loop';
import { createLeaseKeeper } from './lease-keeper';
import { outcomeOfError, SnoozeJob } from './policies';
import { inHandlerSpan } from './tracing';
import {
  type ClaimedJob,
  type FollowUpJob,
  type JobType,
  LeaseLostError,
  type Task,
  type TaskHelpers,
  type Worker,
  type WorkerOptions,
} from './types';

/** A job whose handler is running. */
interface Running {
  job: ClaimedJob;
  controller: AbortController;
  started: number;
  /** Lost its lease, or kept past the stop: its outcome is not recorded. */
  dropped: boolean;
  /** Asked to stop by `stop()`: if it gives up (rejects), its job is released rather than failed. */
  stopping: boolean;
}

/**
 * How long handlers aborted by `stop()` get to settle: one that finished its work anyway is completed, one that
 * gave up is released. One still running after this keeps its job until its lease runs out, since releasing it
 * while it may still write would let the job run twice.
 */
const stopSettleMs = 2_000;

/** The most follow-up jobs `jobs.complete` takes with one job. */
const maxFollowUps = 1_000;

/**
 * A worker over the typed client, in three parts: the claim loop fills free slots, the lease keeper renews the lease
 * of every job the worker holds, and the acknowledgements keep each finished job's outcome until the API has
 * acknowledged it. Handlers run concurrently; a throwing handler's job is failed with its message, or deferred, as
 * its error's class says (src/worker/policies.ts). The lease token
 * fences the worker: a job taken over by another worker aborts this one's signal, and nothing this worker does with
 * it afterwards is recorded.
 */
export function createWorker(options: WorkerOptions): Worker {
  const api = createClient({ url: options.url, token: options.token });
  const workerId = options.workerId ?? `${os.hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  const leaseSeconds = options.leaseSeconds ?? 60;
  const graceMs = options.graceMs ?? 10_000;
  const drainMs = options.drainMs ?? 10_000;
  const hooks = options.hooks ?? {};
  const jobTypes = Object.keys(options.tasks) as JobType[];
  const running = new Map<string, Running>();
  const settledHandlers = new Changes();
  let started = false;
  let stopped: Promise<void> | undefined;

  const leases = createLeaseKeeper({
    api,
    leaseSeconds,
    lost(job, reason) {
      const entry = running.get(job.id);
      if (!entry) {
        // A finished job: the call delivering its outcome says whether the lease is really gone.
        acknowledgements.hasten(job.id);
        return;
      }
      if (entry.dropped) return;
      entry.dropped = true;
      entry.controller.abort(new LeaseLostError(reason));
      hooks.leaseLost?.(job, reason);
    },
    error: (error) => hooks.error?.(error),
  });

  const acknowledgements = createAcknowledgements({
    api,
    workerId,
    hooks,
    settled(jobId) {
      leases.letGo(jobId);
      claims.wake();
    },
  });

  const run = (job: ClaimedJob, leasedAt: number) => {
    const entry: Running = {
      job,
      controller: new AbortController(),
      started: performance.now(),
      dropped: false,
      stopping: false,
    };
    running.set(job.id, entry);
    leases.hold(job, leasedAt);
    const task = options.tasks[job.jobType] as Task<JobType>;
    let unitsSpent: number | undefined;
    const followUps: FollowUpJob[] = [];
    const helpers: TaskHelpers = {
      signal: entry.controller.signal,
      workerId,
      api,
      snooze(after, reason) {
        throw new SnoozeJob(after, reason);
      },
      spend(units) {
        if (!Number.isInteger(units) || units < 0) {
          throw new RangeError(`units spent are a whole number, 0 or more, not ${units}`);
        }
        unitsSpent = (unitsSpent ?? 0) + units;
      },
      followUp(...jobs) {
        if (followUps.length + jobs.length > maxFollowUps) {
          throw new RangeError(`a completion enqueues ${maxFollowUps} follow-up jobs at most`);
        }
        followUps.push(...jobs);
      },
    };
    const finish = (outcome: Parameters<typeof acknowledgements.add>[1]) => {
      running.delete(job.id);
      if (!entry.dropped) acknowledgements.add(job, outcome, entry.started);
      claims.wake();
      settledHandlers.notify();
    };
    Promise.resolve()
      .then(() => inHandlerSpan(job, workerId, () => task(job, helpers)))
      .then(
        (result) =>
          finish({
            kind: 'complete',
            result,
            ...(unitsSpent === undefined ? {} : { unitsSpent }),
            ...(followUps.length === 0 ? {} : { followUps }),
          }),
        (thrown: unknown) => {
          const error = asError(thrown);
          // A handler that gives up as the worker stops is released; a snooze is a decision, and stands.
          finish(
            entry.stopping && !(error instanceof SnoozeJob)
              ? { kind: 'release' }
              : outcomeOfError(error, unitsSpent),
          );
        },
      );
  };

  const claims = createClaimLoop({
    api,
    workerId,
    jobTypes,
    leaseSeconds,
    waitMs: options.waitMs ?? 30_000,
    hooks,
    concurrency: options.concurrency,
    prefetch: options.prefetch,
    // Outcomes the API has not taken yet hold their slots: a worker whose calls fail stops claiming more.
    busy: () => running.size + acknowledgements.retrying,
    run,
    release(job, leasedAt) {
      leases.hold(job, leasedAt);
      acknowledgements.add(job, { kind: 'release' }, performance.now());
    },
  });

  const handlersSettle = async (by: number) => {
    while (running.size > 0 && Date.now() < by) await settledHandlers.next(by - Date.now());
  };

  const stop = async () => {
    await claims.stop();
    await handlersSettle(Date.now() + graceMs);
    // Past the grace: the rest are asked to stop, and get a moment to settle.
    for (const entry of running.values()) {
      entry.stopping = true;
      entry.controller.abort(new Error('the worker is stopping'));
    }
    await handlersSettle(Date.now() + stopSettleMs);
    // Handlers that ignore their signal keep their jobs, unrecorded, until the leases run out.
    for (const entry of running.values()) {
      entry.dropped = true;
      leases.letGo(entry.job.id);
    }
    const undelivered = await acknowledgements.drain(Date.now() + drainMs);
    leases.close();
    if (undelivered.length > 0) hooks.undelivered?.(undelivered);
  };

  return {
    workerId,
    get running() {
      return running.size;
    },
    start() {
      if (started || stopped) return;
      if (jobTypes.length === 0) throw new Error('createWorker: tasks names no job type');
      started = true;
      claims.start();
    },
    stop() {
      stopped ??= stop();
      return stopped;
    },
  };
}
