/** The package's entry point: what another project imports from `tubesensei`. */
export type { AppRouter } from '../api/router';
export { clientBatchLimits, type ClientOptions, createClient, TransportError } from './typed-client';
export {
  type ClaimedJob,
  createWorker,
  type Deferral,
  type FailureKind,
  type FollowUpJob,
  type JobOf,
  type JobResult,
  type JobType,
  LeaseLostError,
  PermanentJobError,
  QuotaExhaustedError,
  RateLimitedError,
  SnoozeJob,
  type Task,
  type TaskHelpers,
  type Tasks,
  type Undelivered,
  type Worker,
  type WorkerHooks,
  type WorkerOptions,
} from '../worker';
