import { collectDefaultMetrics, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { PermanentJobError } from '../../src/client';
import { createTestWorker } from '../support/test-worker';
import { serveMetrics, workerMetrics } from '../../src/worker/metrics';
import { testDatabase } from '../support/database';
import { until } from '../support/until';
import { discoveryJobs, useWorkerApi } from '../support/worker-api';

const api = useWorkerApi();
const token = 'worker-metrics-token-of-the-test';

/** One sample's value from Prometheus' text format. */
const sample = (text: string, series: string) =>
  Number(
    text
      .split('\n')
      .find((line) => line.startsWith(`${series} `))
      ?.slice(series.length + 1),
  );

describe('a worker’s metrics', () => {
  it('count its handlers by outcome and serve them on a port of their own, behind the metrics token', async () => {
    const [done, retried, broken] = await discoveryJobs(3);
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    const logged: string[] = [];
    const worker = createTestWorker({
      url: api.url,
      concurrency: 3,
      waitMs: 200,
      tasks: {
        channel_discovery: (job) => {
          if (job.id === retried!.id) throw new Error('timed out');
          if (job.id === broken!.id) throw new PermanentJobError('no such channel');
          return { videosFound: 0, newVideos: 0 };
        },
      },
      hooks: workerMetrics(registry, { completed: (job) => logged.push(job.id) }),
    });
    const server = await serveMetrics(registry, { host: '127.0.0.1', port: 0, token });
    try {
      worker.start();
      await until(async () => {
        const rows = await testDatabase().db('processing_jobs').whereIn('status', ['completed', 'failed']);
        return rows.length === 2;
      });
      await worker.stop();

      const response = await fetch(`${server.url}/metrics`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(response.status).toBe(200);
      const text = await response.text();
      const handled = (outcome: string) =>
        sample(
          text,
          `tubesensei_worker_job_seconds_count{job_type="channel_discovery",outcome="${outcome}"}`,
        );
      expect(handled('completed')).toBe(1);
      expect(handled('failed')).toBe(1);
      expect(handled('failed_permanently')).toBe(1);
      expect(sample(text, 'tubesensei_worker_jobs_held')).toBe(0);
      expect(text).toContain('nodejs_eventloop_lag_seconds');
      expect(logged).toEqual([done!.id]);

      expect((await fetch(`${server.url}/metrics`)).status).toBe(401);
      // The scheme and the token are two words: a header that runs them together is no bearer token.
      const runTogether = await fetch(`${server.url}/metrics`, {
        headers: { authorization: `BearerX${token}` },
      });
      expect(runTogether.status).toBe(401);
      expect((await fetch(`${server.url}/other`)).status).toBe(404);
    } finally {
      await worker.stop();
      await server.close();
    }
  });
});
