import { createHash, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { ClaimedJob, WorkerHooks } from './types';

/**
 * Handler metrics for a worker process, opt-in: this module is not part of the client's entry point, so a worker
 * that does not count anything never loads prom-client. The process makes the registry (with prom-client's default
 * metrics, if it wants them) and serves it; docs/metrics.md describes each metric.
 */

/** Seconds, from a no-op job to an hour-long one. */
const handlerBuckets = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3_600];

/**
 * Hooks for `createWorker` that count what its handlers do into `registry`, then call `next` (a process's logging
 * hooks, say) with the same arguments.
 */
export function workerMetrics(registry: Registry, next: WorkerHooks = {}): WorkerHooks {
  const registers = [registry];
  const handled = new Histogram({
    name: 'tubesensei_worker_job_seconds',
    help: "Jobs this worker ran, by type and outcome, from the handler's start to the API acknowledging its outcome (to the loss or release for those).",
    labelNames: ['job_type', 'outcome'] as const,
    buckets: handlerBuckets,
    registers,
  });
  const held = new Gauge({
    name: 'tubesensei_worker_jobs_held',
    help: 'Jobs this worker holds: claimed, and their outcome not yet acknowledged by the API.',
    registers,
  });
  const idle = new Counter({
    name: 'tubesensei_worker_idle_claims_total',
    help: 'Claims that waited for work and found none.',
    registers,
  });
  const callErrors = new Counter({
    name: 'tubesensei_worker_call_errors_total',
    help: 'Calls to the API that failed for a reason other than a rejection (unreachable, a 5xx); each is tried again.',
    registers,
  });
  const undelivered = new Counter({
    name: 'tubesensei_worker_undelivered_total',
    help: 'Outcomes the API had not acknowledged when the worker stopped, by kind (complete, fail, snooze, release).',
    labelNames: ['outcome'] as const,
    registers,
  });

  /** When each held job's handler started (`performance.now()`): right after its claim. */
  const startedAt = new Map<string, number>();
  const ended = (job: ClaimedJob, outcome: string, seconds?: number) => {
    const started = startedAt.get(job.id);
    startedAt.delete(job.id);
    held.set(startedAt.size);
    if (started === undefined && seconds === undefined) return;
    handled.observe({ job_type: job.jobType, outcome }, seconds ?? (performance.now() - started!) / 1_000);
  };

  return {
    claimed(jobs) {
      for (const job of jobs) startedAt.set(job.id, performance.now());
      held.set(startedAt.size);
      next.claimed?.(jobs);
    },
    completed(job, durationMs) {
      ended(job, 'completed', durationMs / 1_000);
      next.completed?.(job, durationMs);
    },
    failed(job, error, permanent) {
      ended(job, permanent ? 'failed_permanently' : 'failed');
      next.failed?.(job, error, permanent);
    },
    deferred(job, reason, until) {
      ended(job, reason);
      next.deferred?.(job, reason, until);
    },
    leaseLost(job, reason) {
      ended(job, 'lease_lost');
      next.leaseLost?.(job, reason);
    },
    released(jobs) {
      for (const job of jobs) ended(job, 'released');
      next.released?.(jobs);
    },
    idle() {
      idle.inc();
      next.idle?.();
    },
    error(error) {
      callErrors.inc();
      next.error?.(error);
    },
    undelivered(jobs) {
      for (const { job, outcome } of jobs) {
        undelivered.inc({ outcome });
        startedAt.delete(job.id);
      }
      held.set(startedAt.size);
      next.undelivered?.(jobs);
    },
  };
}

/** Compares in constant time, so a caller cannot find the token a character at a time. */
export const bearerMatches = (header: string | undefined, token: string): boolean =>
  header?.startsWith('Bearer ') === true &&
  timingSafeEqual(
    createHash('sha256').update(header.slice('Bearer '.length)).digest(),
    createHash('sha256').update(token).digest(),
  );

export interface MetricsServer {
  /** `http://host:port`, the port the system chose when 0 was asked for. */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Serves `registry` at `/metrics` on a port of its own, for a process with no HTTP server otherwise; with a
 * token, a scrape must present it as a bearer token.
 */
export async function serveMetrics(
  registry: Registry,
  options: { host: string; port: number; token?: string },
): Promise<MetricsServer> {
  const server = http.createServer((request, response) => {
    if ((request.url ?? '').split('?', 1)[0] !== '/metrics' || request.method !== 'GET') {
      response.writeHead(404).end();
      return;
    }
    if (options.token !== undefined && !bearerMatches(request.headers.authorization, options.token)) {
      response.writeHead(401, { 'www-authenticate': 'Bearer', 'content-type': 'text/plain' });
      response.end('a scrape needs Authorization: Bearer <METRICS_TOKEN>\n');
      return;
    }
    registry.metrics().then(
      (text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text),
      () => response.writeHead(500).end(),
    );
  });
  server.listen(options.port, options.host);
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host}:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
