export { createWorker } from './create-worker';
export { QuotaExhaustedError, RateLimitedError, SnoozeJob } from './policies';
export {
  type ClaimedJob,
  type Deferral,
  type FailureKind,
  type FollowUpJob,
  type JobOf,
  type JobResult,
  type JobType,
  LeaseLostError,
  type Outcome,
  PermanentJobError,
  type Task,
  type TaskHelpers,
  type Tasks,
  type Undelivered,
  type Worker,
  type WorkerHooks,
  type WorkerOptions,
} from './types';
