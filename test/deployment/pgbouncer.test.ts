import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '../../src/client';
import { connect } from '../../src/db/connect';
import { channelFactory, processingSessionFactory } from '../../dev/factories';
import { enqueueJobs } from '../../src/queue/job-queue';
import { testDatabase, testPoolSettings } from '../support/database';
import {
  formatReport,
  invariantViolations,
  operationProcedures,
  runManyWriters,
} from '../support/many-writers';
import { type Started, startApi, startPgBouncer } from '../support/processes';

const adminToken = 'admin-token-for-the-deployment';
const workerToken = 'worker-token-for-the-deployment';
const tokens = { API_TOKEN: adminToken, API_TOKENS: `worker:${workerToken}` };

let bouncer: Started;
let pooled: Started[] = [];
let direct: Started[] = [];
let viaBouncer: Knex;

beforeAll(async () => {
  const { url } = testDatabase();
  bouncer = await startPgBouncer(url);
  // Two API processes through PgBouncer, two straight to PostgreSQL, each with a pool of 10.
  const settings = { ...tokens, DATABASE_POOL_SIZE: '10' };
  [pooled, direct] = await Promise.all([
    Promise.all([
      startApi({ ...settings, DATABASE_URL: bouncer.url }),
      startApi({ ...settings, DATABASE_URL: bouncer.url }),
    ]),
    Promise.all([startApi({ ...settings, DATABASE_URL: url }), startApi({ ...settings, DATABASE_URL: url })]),
  ]);
  viaBouncer = connect(bouncer.url, testPoolSettings);
}, 120_000);

afterAll(async () => {
  await Promise.all([...pooled, ...direct].map((api) => api.stop()));
  await viaBouncer?.destroy();
  await bouncer?.stop();
});

/** Workers over HTTP, taking turns over the API processes, draining `count` jobs of their own session. */
async function drain(urls: string[], count: number, workers = 8) {
  const session = await processingSessionFactory.trait('running').create();
  const channels = await channelFactory.createList(count);
  await enqueueJobs(
    testDatabase().db,
    channels.map((channel) => ({
      jobType: 'channel_discovery',
      entityType: 'channel',
      entityId: channel.id,
      sessionId: session.id,
      priority: 1_000_000,
    })),
  );
  const completions = new Map<string, number>();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: workers }, async (_, index) => {
      const api = createClient({ url: urls[index % urls.length]!, token: workerToken });
      for (;;) {
        const claimed = (
          await api.jobs.claim.mutate({ workerId: `w${index}`, limit: 10, jobTypes: ['channel_discovery'] })
        ).filter((job) => job.sessionId === session.id);
        if (claimed.length === 0) return;
        const done = await api.jobs.completeMany.mutate({
          jobs: claimed.map((job) => ({ id: job.id, leaseToken: job.leaseToken! })),
        });
        for (const job of done.completed) completions.set(job.id, (completions.get(job.id) ?? 0) + 1);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1_000;
  const progress = await createClient({ url: urls[0]!, token: workerToken }).sessions.progress.query({
    id: session.id,
  });
  return { seconds, jobsPerSecond: count / seconds, completions, progress };
}

describe('several API processes behind PgBouncer in transaction pooling mode', () => {
  it('responds with no 5xx to 12 clients writing overlapping rows through two processes, and every invariant holds', async () => {
    const report = await runManyWriters({
      urls: pooled.map((api) => api.url),
      token: adminToken,
      clients: 12,
      seed: 2,
      rounds: 6,
    });
    console.info(`through PgBouncer, two API processes:\n${formatReport(report)}`);
    expect(Object.entries(report).filter(([, tally]) => tally.serverErrors > 0)).toEqual([]);
    for (const procedure of Object.values(operationProcedures)) {
      expect(report[procedure]?.calls, procedure).toBeGreaterThan(0);
    }
    const violations = await invariantViolations(testDatabase().db);
    expect(violations).toEqual(Object.fromEntries(Object.keys(violations).map((rule) => [rule, 0])));
  }, 90_000);

  it('drains a queue through PgBouncer with each job completed once, and reports its rate next to the direct one', async () => {
    const count = 2_000;
    const throughBouncer = await drain(
      pooled.map((api) => api.url),
      count,
    );
    const straight = await drain(
      direct.map((api) => api.url),
      count,
    );
    console.info(
      `queue drain of ${count} jobs by 8 workers over HTTP: through PgBouncer ${throughBouncer.jobsPerSecond.toFixed(0)} jobs/s, ` +
        `direct ${straight.jobsPerSecond.toFixed(0)} jobs/s`,
    );
    for (const run of [throughBouncer, straight]) {
      expect(run.completions.size).toBe(count);
      expect([...run.completions.values()].every((n) => n === 1)).toBe(true);
      expect(run.progress).toMatchObject({ completed: count, processedVideos: count, total: count });
    }
    // The same statements run through the pooler: it runs plain queries too.
    expect((await viaBouncer.raw('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  }, 120_000);
});
