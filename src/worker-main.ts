import { config as loadDotenv } from 'dotenv';
import pino from 'pino';
import { z } from 'zod';
import { parseEnvironment } from './config';
import { standInTasks } from './stand-in-tasks';
import { createWorker } from './worker';

const envSchema = z.object({
  /** The API to work for. */
  API_URL: z.url().default('http://127.0.0.1:3000'),
  /** A worker (or admin) token, when the API has tokens. */
  WORKER_TOKEN: z.string().optional(),
  API_TOKEN: z.string().optional(),
  WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(100).default(4),
  /** How long a stand-in job works, on average. */
  WORKER_JOB_MS: z.coerce.number().int().min(0).max(60_000).default(200),
  /** The share of stand-in jobs that fail (and are retried). */
  WORKER_FAILURE_RATE: z.coerce.number().min(0).max(1).default(0.05),
  WORKER_LEASE_SECONDS: z.coerce.number().int().min(3).max(3_600).default(60),
  WORKER_GRACE_MS: z.coerce.number().int().min(0).max(600_000).default(10_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

/** `npm run worker`: a worker with the stand-in handlers, one log line per job; SIGTERM or SIGINT stop it. */
function main(): void {
  loadDotenv({ quiet: true });
  let env: z.output<typeof envSchema>;
  try {
    env = parseEnvironment(envSchema, process.env);
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  }
  const log = pino({ level: env.LOG_LEVEL });
  const worker = createWorker({
    url: env.API_URL,
    token: env.WORKER_TOKEN ?? env.API_TOKEN,
    concurrency: env.WORKER_CONCURRENCY,
    leaseSeconds: env.WORKER_LEASE_SECONDS,
    graceMs: env.WORKER_GRACE_MS,
    tasks: standInTasks({ workMs: env.WORKER_JOB_MS, failureRate: env.WORKER_FAILURE_RATE }),
    hooks: {
      claimed: (jobs) => log.debug({ jobs: jobs.map((job) => job.id) }, 'claimed'),
      completed: (job, durationMs) =>
        log.info(
          { jobId: job.id, jobType: job.jobType, durationMs: Math.round(durationMs) },
          'job completed',
        ),
      failed: (job, error, permanent) =>
        log.warn({ jobId: job.id, jobType: job.jobType, error: error.message, permanent }, 'job failed'),
      leaseLost: (job, reason) => log.warn({ jobId: job.id, jobType: job.jobType, reason }, 'lease lost'),
      released: (jobs) => log.info({ jobs: jobs.map((job) => job.id) }, 'released'),
      idle: () => log.debug('no work'),
      error: (error) => log.error({ err: error }, 'call failed'),
      undelivered: (jobs) =>
        log.error(
          { jobs: jobs.map(({ job, outcome }) => ({ jobId: job.id, outcome })) },
          'outcomes the API never acknowledged: these jobs run again once their leases run out',
        ),
    },
  });
  worker.start();
  log.info(
    { workerId: worker.workerId, api: env.API_URL, concurrency: env.WORKER_CONCURRENCY },
    'worker started',
  );
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ running: worker.running }, `${signal}: finishing running jobs, then stopping`);
    void worker.stop().then(() => {
      log.info('worker stopped');
      process.exit(0);
    });
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

main();
