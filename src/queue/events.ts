import type { Knex } from 'knex';
import type { ClaimedJob, ProcessingJob } from '../schemas/processing-job';

/**
 * What the queue did, for whoever counts it (`/metrics`). Each callback gets the jobs as the statement that
 * changed them returned them; it runs after the change and must not throw.
 */
export interface QueueObserver {
  /** Jobs newly queued by an enqueue (not the active jobs it found instead). */
  enqueued?(jobs: readonly ProcessingJob[]): void;
  claimed?(jobs: readonly ClaimedJob[]): void;
  completed?(jobs: readonly ProcessingJob[]): void;
  /** A failure reported by its worker: `failed` for good, or `queued` again for a retry. */
  failed?(job: ProcessingJob): void;
}

/** Observers by database, so two apps in one process, each on its own database, count only their own jobs. */
const observers = new WeakMap<Knex, Set<QueueObserver>>();

/** Calls `observer` for every change the queue makes through `db`; returns what stops it. */
export function observeQueue(db: Knex, observer: QueueObserver): () => void {
  const set = observers.get(db) ?? new Set();
  observers.set(db, set);
  set.add(observer);
  return () => set.delete(observer);
}

/** Tells the observers of `db` what the queue just did. */
export function reportToObservers<Event extends keyof QueueObserver>(
  db: Knex,
  event: Event,
  ...args: Parameters<NonNullable<QueueObserver[Event]>>
): void {
  const set = observers.get(db);
  if (!set) return;
  for (const observer of set) (observer[event] as ((...given: typeof args) => void) | undefined)?.(...args);
}
