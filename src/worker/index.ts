export { createWorker } from './create-worker';
export {
  type ClaimedJob,
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
