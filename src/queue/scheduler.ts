import type { Knex } from 'knex';
import { enqueueDueDiscoveries, pruneFinishedJobs } from './schedules';

export interface SchedulerOptions {
  /** The database whose channels and jobs it tends. */
  db: Knex;
  /** Time between ticks; each tick first runs at start. */
  intervalMs: number;
  /** Rows per statement: channels enqueued, or jobs pruned. */
  batchSize: number;
  /** Finished jobs older than this are pruned. */
  retentionDays: number;
  /** A tick stops after this many full batches of each kind, so one tick stays short; the next goes on. */
  maxBatchesPerTick?: number;
  log: { info(details: object, message: string): void; error(details: object, message: string): void };
}

export interface TickResult {
  enqueued: number;
  pruned: number;
}

export interface Scheduler {
  /** Runs one tick now (after the one in progress, if any). */
  tick(): Promise<TickResult>;
  /** Stops ticking; resolves when the tick in progress has finished. */
  stop(): Promise<void>;
}

const dayMs = 86_400_000;

/** Runs `work` in batches until a batch comes back short or the tick's budget of batches is spent. */
async function inBatches(batchSize: number, budget: number, work: () => Promise<number>): Promise<number> {
  let total = 0;
  for (let batch = 0; batch < budget; batch += 1) {
    const done = await work();
    total += done;
    if (done < batchSize) break;
  }
  return total;
}

/**
 * The queue's clockwork: on every tick, enqueues discovery for channels whose schedule is due and prunes finished
 * jobs past their retention, each in bounded batches. Several schedulers (API processes, `npm run scheduler`)
 * may run at once: the database functions they call divide the work, so nothing is enqueued twice.
 */
export function startScheduler(options: SchedulerOptions): Scheduler {
  const budget = options.maxBatchesPerTick ?? 20;
  // Stryker disable next-line ObjectLiteral: the first tick chains on this and never reads it.
  let running: Promise<TickResult> = Promise.resolve({ enqueued: 0, pruned: 0 });
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const runTick = async (): Promise<TickResult> => {
    const enqueued = await inBatches(options.batchSize, budget, async () => {
      return (await enqueueDueDiscoveries(options.db, options.batchSize)).length;
    });
    const cutoff = new Date(Date.now() - options.retentionDays * dayMs);
    const pruned = await inBatches(options.batchSize, budget, () =>
      pruneFinishedJobs(options.db, cutoff, options.batchSize),
    );
    if (enqueued > 0 || pruned > 0) options.log.info({ enqueued, pruned }, 'scheduler tick');
    return { enqueued, pruned };
  };

  const tick = (): Promise<TickResult> => {
    running = running.then(runTick, runTick);
    return running;
  };

  const loop = () => {
    tick()
      .catch((error: unknown) =>
        options.log.error({ err: error }, 'scheduler tick failed; next tick retries'),
      )
      .finally(() => {
        if (!stopped) timer = setTimeout(loop, options.intervalMs);
      });
  };
  loop();

  return {
    tick,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running.catch(() => undefined);
    },
  };
}
