import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Knex } from 'knex';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ObserveProcedure } from '../api/context';
import { listBudgets } from '../queue/budgets';
import { observeQueue } from '../queue/events';
import { readJobCounts } from '../queue/job-counts';
import { jobStatuses, jobTypes, type ProcessingJob } from '../schemas/processing-job';
import { bearerMatches } from '../worker/metrics';

/** Units left in each budget, for `tubesensei_budget_units_left`: what the queue's budgets report. */
export type ReadBudgets = (db: Knex) => Promise<{ budget: string; unitsLeft: number }[]>;

/** The queue's quota budgets (src/queue/budgets.ts), as the gauge reads them. */
export const budgetsLeft: ReadBudgets = async (db) =>
  (await listBudgets(db)).map((budget) => ({ budget: budget.name, unitsLeft: budget.left }));

export interface MetricsOptions {
  /** The bearer token a scrape must present (`METRICS_TOKEN`); without one, `/metrics` is open to any caller. */
  token?: string;
  /** Reads the units left per budget on each scrape; the gauge is left out without it. */
  budgets?: ReadBudgets;
}

export interface ApiMetrics {
  readonly registry: Registry;
  /** For each procedure call (the tRPC middleware every procedure shares calls it, on both transports). */
  observeProcedure: ObserveProcedure;
  /** Serves `/metrics` on `app`, times its requests, and stops counting the queue when it closes. */
  register(app: FastifyInstance): void;
}

/** knex's pool (tarn), as far as the gauges read it. */
interface Pool {
  numUsed(): number;
  numFree(): number;
  numPendingAcquires(): number;
}

/** Seconds, from a fast procedure call to the longest claim wait (30 s). */
const requestBuckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Seconds, from a no-op job to an hour-long one, and from an idle worker's pick-up to a backlog of hours. */
const jobBuckets = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3_600, 14_400];

const secondsBetween = (from: Date, to: Date) => Math.max(0, (to.getTime() - from.getTime()) / 1_000);

/**
 * The API process's metrics in Prometheus' text format, from prom-client: the process's own (event-loop lag,
 * memory, CPU), the database pool, request and procedure durations, what the queue did through this process,
 * and, from the database on each scrape, jobs by type and status and the leases that expired (every API process
 * reports the same database totals). docs/metrics.md describes each one.
 */
export function createApiMetrics(db: Knex, options: MetricsOptions = {}): ApiMetrics {
  const registry = new Registry();
  const registers = [registry];
  collectDefaultMetrics({ register: registry });

  const httpDuration = new Histogram({
    name: 'tubesensei_http_request_duration_seconds',
    help: 'HTTP requests by method, route and status code, from the first byte read to the last byte sent.',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: requestBuckets,
    registers,
  });
  const procedureDuration = new Histogram({
    name: 'tubesensei_procedure_duration_seconds',
    help: 'Procedure calls (tRPC and REST alike) by procedure and the HTTP status of their outcome.',
    labelNames: ['procedure', 'status'] as const,
    buckets: requestBuckets,
    registers,
  });
  const enqueues = new Counter({
    name: 'tubesensei_job_enqueues_total',
    help: 'Jobs newly queued by enqueue calls to this process, by type.',
    labelNames: ['job_type'] as const,
    registers,
  });
  const claims = new Counter({
    name: 'tubesensei_job_claims_total',
    help: 'Jobs handed out by claims to this process, by type (a job taken over after its lease expired included).',
    labelNames: ['job_type'] as const,
    registers,
  });
  const completions = new Counter({
    name: 'tubesensei_job_completions_total',
    help: 'Jobs completed through this process, by type.',
    labelNames: ['job_type'] as const,
    registers,
  });
  const failures = new Counter({
    name: 'tubesensei_job_failures_total',
    help: 'Failures workers reported to this process, by type; final="true" failed the job for good, "false" queued a retry.',
    labelNames: ['job_type', 'final'] as const,
    registers,
  });
  const startDelay = new Histogram({
    name: 'tubesensei_job_start_delay_seconds',
    help: "From a job's due time (its enqueue, or the later runAfter it was given) to the claim that first started it, by type.",
    labelNames: ['job_type'] as const,
    buckets: jobBuckets,
    registers,
  });
  const runDuration = new Histogram({
    name: 'tubesensei_job_run_seconds',
    help: "From an attempt's claim to its outcome reaching the API, by type and outcome (completed, failed, retried).",
    labelNames: ['job_type', 'outcome'] as const,
    buckets: jobBuckets,
    registers,
  });
  const jobs = new Gauge({
    name: 'tubesensei_jobs',
    help: 'Jobs in the database by type and status (read from counts the database keeps, not by counting rows).',
    labelNames: ['job_type', 'status'] as const,
    registers,
  });
  const leaseExpiries = new Counter({
    name: 'tubesensei_job_lease_expiries_total',
    help: 'Leases that ran out before their worker reported, by type: outcome="reclaimed" when a claim took the job over, "failed" on its last attempt.',
    labelNames: ['job_type', 'outcome'] as const,
    registers,
  });
  const budgetUnits = options.budgets
    ? new Gauge({
        name: 'tubesensei_budget_units_left',
        help: 'Units left in each budget.',
        labelNames: ['budget'] as const,
        registers,
      })
    : undefined;

  const pool = () => (db.client as { pool?: Pool }).pool;
  new Gauge({
    name: 'tubesensei_db_pool_connections',
    help: 'The database pool\'s open connections: state="used" by a query or transaction, "free" for the next one.',
    labelNames: ['state'] as const,
    registers,
    collect() {
      this.set({ state: 'used' }, pool()?.numUsed() ?? 0);
      this.set({ state: 'free' }, pool()?.numFree() ?? 0);
    },
  });
  new Gauge({
    name: 'tubesensei_db_pool_waiting',
    help: 'Callers waiting for a connection from the database pool.',
    registers,
    collect() {
      this.set(pool()?.numPendingAcquires() ?? 0);
    },
  });
  new Gauge({
    name: 'tubesensei_db_pool_max',
    help: 'The most connections the database pool opens (DATABASE_POOL_SIZE).',
    registers,
    collect() {
      this.set((db.client.config as Knex.Config).pool?.max ?? 0);
    },
  });

  const ran = (job: ProcessingJob, outcome: string, endedAt: Date | null | undefined) => {
    if (job.lockedAt && endedAt)
      runDuration.observe({ job_type: job.jobType, outcome }, secondsBetween(job.lockedAt, endedAt));
  };
  const stopObserving = observeQueue(db, {
    enqueued(queued) {
      for (const job of queued) enqueues.inc({ job_type: job.jobType });
    },
    claimed(claimed) {
      for (const job of claimed) {
        claims.inc({ job_type: job.jobType });
        if (job.attempts === 1 && job.lockedAt)
          startDelay.observe({ job_type: job.jobType }, secondsBetween(job.runAfter, job.lockedAt));
      }
    },
    completed(completed) {
      for (const job of completed) {
        completions.inc({ job_type: job.jobType });
        ran(job, 'completed', job.completedAt);
      }
    },
    failed(job) {
      const final = job.status === 'failed';
      failures.inc({ job_type: job.jobType, final: String(final) });
      ran(job, final ? 'failed' : 'retried', job.updatedAt);
    },
  });

  /** What only the database knows, read once per scrape. */
  const readDatabase = async (log: FastifyRequest['log']) => {
    try {
      const counts = await readJobCounts(db);
      jobs.reset();
      leaseExpiries.reset();
      // Every known series, at 0 until it counts something: a graph's line starts at zero, not at its first job.
      for (const jobType of jobTypes) {
        for (const status of jobStatuses) jobs.set({ job_type: jobType, status }, 0);
        for (const outcome of ['reclaimed', 'failed']) leaseExpiries.inc({ job_type: jobType, outcome }, 0);
      }
      for (const count of counts) {
        jobs.set({ job_type: count.jobType, status: count.status }, count.jobs);
        if (count.status === 'running' || count.status === 'failed')
          leaseExpiries.inc(
            { job_type: count.jobType, outcome: count.status === 'running' ? 'reclaimed' : 'failed' },
            count.leaseExpiries,
          );
      }
      for (const { budget, unitsLeft } of (await options.budgets?.(db)) ?? [])
        budgetUnits?.set({ budget }, unitsLeft);
    } catch (error) {
      // The process's own metrics still say something while the database does not respond; stale counts would not.
      jobs.reset();
      leaseExpiries.reset();
      budgetUnits?.reset();
      log.warn({ err: error }, 'metrics: the database did not respond; job counts left out of this scrape');
    }
  };

  const authorized = (request: FastifyRequest, reply: FastifyReply) => {
    if (options.token === undefined || bearerMatches(request.headers.authorization, options.token))
      return true;
    void reply
      .code(401)
      .header('www-authenticate', 'Bearer')
      .type('text/plain')
      .send('a scrape needs Authorization: Bearer <METRICS_TOKEN>\n');
    return false;
  };

  return {
    registry,
    observeProcedure(procedure, status, seconds) {
      procedureDuration.observe({ procedure, status }, seconds);
    },
    register(app) {
      app.addHook('onResponse', async (request, reply) => {
        httpDuration.observe(
          {
            method: request.method,
            route: request.routeOptions.url ?? 'unmatched',
            status_code: reply.statusCode,
          },
          reply.elapsedTime / 1_000,
        );
      });
      app.addHook('onClose', async () => stopObserving());
      app.get('/metrics', async (request, reply) => {
        if (!authorized(request, reply)) return reply;
        await readDatabase(request.log);
        return reply.type(registry.contentType).send(await registry.metrics());
      });
    },
  };
}
