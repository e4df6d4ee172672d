import { config as loadDotenv } from 'dotenv';
import pino from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { z } from 'zod';
import { parseEnvironment } from '../src/config';
import { flushTraces, traceIds } from '../src/http/tracing';
import { exampleHandlers } from './example-handlers';
import { createWorker } from '../src/worker';
import { type MetricsServer, serveMetrics, workerMetrics } from '../src/worker/metrics';

const envSchema = z.object({
  /** The API to work for. */
  API_URL: z.url().default('http://127.0.0.1:3000'),
  /** A worker (or admin) token, when the API has tokens. */
  WORKER_TOKEN: z.string().optional(),
  API_TOKEN: z.string().optional(),
  WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(100).default(4),
  /** How long an example handler works, on average. */
  WORKER_JOB_MS: z.coerce.number().int().min(0).max(60_000).default(200),
  /** The share of example jobs that fail (and are retried). */
  WORKER_FAILURE_RATE: z.coerce.number().min(0).max(1).default(0.05),
  WORKER_LEASE_SECONDS: z.coerce.number().int().min(3).max(3_600).default(60),
  WORKER_GRACE_MS: z.coerce.number().int().min(0).max(600_000).default(10_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Serves the worker's metrics at `/metrics` on this port; unset serves none. */
  WORKER_METRICS_PORT: z.coerce.number().int().min(0).max(65_535).optional(),
  WORKER_METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  /** The bearer token a scrape presents, as for the API's `/metrics`. */
  METRICS_TOKEN: z.string().min(16, 'tokens must be at least 16 characters').optional(),
});

/**
 * `npm run worker`: the demo worker with the example handlers, one log line per job, and its metrics on
 * WORKER_METRICS_PORT when set; SIGTERM or SIGINT stop it.
 */
async function main(): Promise<void> {
  loadDotenv({ quiet: true });
  let env: z.output<typeof envSchema>;
  try {
    env = parseEnvironment(envSchema, process.env);
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  }
  const log = pino({ level: env.LOG_LEVEL, mixin: traceIds });
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const worker = createWorker({
    url: env.API_URL,
    token: env.WORKER_TOKEN ?? env.API_TOKEN,
    concurrency: env.WORKER_CONCURRENCY,
    leaseSeconds: env.WORKER_LEASE_SECONDS,
    graceMs: env.WORKER_GRACE_MS,
    tasks: exampleHandlers({ workMs: env.WORKER_JOB_MS, failureRate: env.WORKER_FAILURE_RATE }),
    hooks: workerMetrics(registry, {
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
    }),
  });
  worker.start();
  const metrics: MetricsServer | undefined =
    env.WORKER_METRICS_PORT === undefined
      ? undefined
      : await serveMetrics(registry, {
          host: env.WORKER_METRICS_HOST,
          port: env.WORKER_METRICS_PORT,
          token: env.METRICS_TOKEN,
        });
  log.info(
    {
      workerId: worker.workerId,
      api: env.API_URL,
      concurrency: env.WORKER_CONCURRENCY,
      metrics: metrics && `${metrics.url}/metrics`,
    },
    'worker started',
  );
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ running: worker.running }, `${signal}: finishing running jobs, then stopping`);
    void worker.stop().then(async () => {
      log.info('worker stopped');
      await metrics?.close();
      await flushTraces();
      process.exit(0);
    });
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
