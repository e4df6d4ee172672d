import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import type { AppRouter } from '../api/router';
import type { createClient } from '../client/typed-client';

type Outputs = inferRouterOutputs<AppRouter>;
type Inputs = inferRouterInputs<AppRouter>;

/** The typed client a worker calls the API with. */
export type WorkerApi = ReturnType<typeof createClient>;

/** A job as a worker receives it from `jobs.claim`: running, with its lease token. */
export type ClaimedJob = Outputs['jobs']['claim'][number];
export type JobType = ClaimedJob['jobType'];
/** A job as `jobs.get` responds with it: what a worker reads back after a call it is unsure of. */
export type JobRow = Outputs['jobs']['get'];
/** What a handler may return: stored as the job's `result`. */
export type JobResult = Inputs['jobs']['complete']['result'];
/** A job that follows from another, enqueued with that one's completion. */
export type FollowUpJob = Inputs['jobs']['enqueue'];
/** What a failure was, and so what the queue does with its job. */
export type FailureKind = NonNullable<Inputs['jobs']['fail']['kind']>;
/** Why a deferred job waits. */
export type Deferral = 'snoozed' | 'rate_limited' | 'quota_exhausted';

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
  api: WorkerApi;
  /**
   * Puts the job off until `after` (a time, or seconds from now), its attempt unspent, nothing recorded as a
   * failure, `reason` shown on it. It throws a `SnoozeJob`, so it ends the handler: `return helpers.snooze(600)`.
   */
  snooze(after: Date | number, reason?: string): never;
  /**
   * Budget units the job really spent, added up over calls and reported with its outcome in place of its type's
   * cost: a discovery that paged through 40 `playlistItems.list` pages spends 40. Not reported if never called.
   */
  spend(units: number): void;
  /**
   * Jobs that follow from this one (the transcripts of the videos a discovery found), enqueued with its completion
   * under its lease, in the same transaction: none if the job is not completed.
   */
  followUp(...jobs: FollowUpJob[]): void;
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

/**
 * What a worker reports to the API about a job it claimed: `jobs.completeMany`, `jobs.fail`, `jobs.snooze` or
 * `jobs.release`. `unitsSpent` is what the handler reported through `spend`.
 */
export type Outcome =
  | { kind: 'complete'; result: JobResult; unitsSpent?: number; followUps?: FollowUpJob[] }
  | {
      kind: 'fail';
      error: Error;
      failure: FailureKind;
      retryAfterSeconds?: number;
      scope?: 'key' | 'type';
      unitsSpent?: number;
    }
  | { kind: 'snooze'; until: Date; reason: string | undefined; unitsSpent?: number }
  | { kind: 'release' };

/** A job whose outcome the API never acknowledged before the worker stopped. */
export interface Undelivered {
  job: ClaimedJob;
  outcome: Outcome['kind'];
}

/** Callbacks for operators: enough to log and count what a worker does. */
export interface WorkerHooks {
  claimed?(jobs: ClaimedJob[]): void;
  completed?(job: ClaimedJob, durationMs: number): void;
  failed?(job: ClaimedJob, error: Error, permanent: boolean): void;
  /** A job queued again for later with its attempt unspent (snoozed, rate limited, its budget spent), until when. */
  deferred?(job: ClaimedJob, reason: Deferral, until: Date): void;
  /** Once per job whose lease was lost; its result, if any, was dropped. */
  leaseLost?(job: ClaimedJob, reason: string): void;
  /** Jobs released at stop, queued again for other workers. */
  released?(jobs: ClaimedJob[]): void;
  /** A claim that waited and found nothing. */
  idle?(): void;
  /**
   * A call that failed for another reason (the API unreachable, say); the worker carries on, and tries again
   * whatever it was reporting.
   */
  error?(error: Error): void;
  /**
   * At stop, the jobs whose outcome the API had not acknowledged by the deadline (`drainMs`), unreachable all that
   * time: each keeps its lease until it runs out, then runs again on another worker.
   */
  undelivered?(jobs: Undelivered[]): void;
}

export interface WorkerOptions {
  /** The API's base URL. */
  url: string;
  /** A token with the `worker` (or `admin`) role, when the API has tokens. */
  token?: string;
  /** Shown as the jobs' `lockedBy`; host, process and a random suffix by default. */
  workerId?: string;
  /** Handlers run at once, at most. */
  concurrency: number;
  /**
   * Claimed jobs kept waiting for a free slot, at most, so a slot that frees starts its next job without a round
   * trip; claims go out ahead, as this local queue empties. A job that waits a third of its lease without a free
   * slot is released for another worker. By default it follows the pace while claims come back full: what the
   * handlers start in four claims' round trips or 100 ms, whichever is longer, at least `concurrency`, otherwise at
   * most 200, so short jobs come in large claims; `concurrency` once a claim comes back short. A number fixes it,
   * and 0 claims only for free slots.
   */
  prefetch?: number;
  tasks: Tasks;
  /**
   * A claim's lease; each job the worker holds (running, or its outcome not yet acknowledged) is renewed every
   * third of it. Default 60.
   */
  leaseSeconds?: number;
  /** How long an idle claim waits for work before asking again. Default 30,000 (the most the API allows). */
  waitMs?: number;
  /** How long `stop()` lets running handlers finish before it aborts them. Default 10,000. */
  graceMs?: number;
  /**
   * How long `stop()` keeps trying to deliver outcomes the API has not acknowledged yet, once the handlers have
   * settled. Default 10,000.
   */
  drainMs?: number;
  hooks?: WorkerHooks;
}

export interface Worker {
  readonly workerId: string;
  /** Handlers running now. */
  readonly running: number;
  start(): void;
  /**
   * Stops claiming and releases the jobs waiting in the local queue, lets running handlers finish within the grace
   * period, then aborts the rest: what finishes anyway is completed, what gives up (rejects) is released
   * (`jobs.release`) so another worker takes it at once without spending an attempt, and a handler that ignores its
   * signal keeps its job until the lease runs out, so no job runs twice. Then waits up to `drainMs` for the API to acknowledge every outcome, renewing their leases
   * meanwhile, and reports what it could not deliver (`undelivered`).
   */
  stop(): Promise<void>;
}
