import { beforeEach, describe, expect, it } from 'vitest';
import { type ClaimedJob, createClient, type Outcome } from '../../src/client';
import { setBudget, setJobTypeCost } from '../../src/queue/budgets';
import { outcomeRecorded } from '../../src/worker/stored-outcome';
import type { JobRow } from '../../src/worker/types';
import { testDatabase } from '../support/database';
import { resetFlowControl } from '../support/flow-control';
import { discoveryJobs, useWorkerApi } from '../support/worker-api';

/**
 * After a call whose response was lost, a rejection may respond to the worker's own earlier write: the worker reads the
 * job and counts the outcome as acknowledged only if the row shows it. Each outcome is recorded here by the real API
 * (with the literal text the API should store), read back, and then changed one field at a time into what another
 * writer could have left: each of those is a lost lease, not the worker's outcome.
 */
const api = useWorkerApi();
beforeEach(() => resetFlowControl(testDatabase().db));

const workerId = 'worker-reading-back';
type Client = ReturnType<typeof createClient>;

interface Case {
  name: string;
  outcome: Outcome;
  maxAttempts?: number;
  budget?: true;
  /** Records the outcome as the API would have from the worker's earlier call. */
  record(client: Client, job: ClaimedJob): Promise<unknown>;
  /** Rows another writer could leave, each not this worker's outcome. */
  unlike(job: ClaimedJob): Partial<JobRow>[];
}

const lease = (job: ClaimedJob) => ({ id: job.id, leaseToken: job.leaseToken });

const cases: Case[] = [
  {
    name: 'a release',
    outcome: { kind: 'release' },
    record: (client, job) => client.jobs.release.mutate(lease(job)),
    unlike: (job) => [{ status: 'running' }, { attempts: job.attempts }, { attempts: job.attempts - 2 }],
  },
  {
    name: 'a snooze with a reason',
    outcome: { kind: 'snooze', until: new Date(Date.now() + 60_000), reason: ' \0waits for the reset  ' },
    record: (client, job) =>
      client.jobs.snooze.mutate({ ...lease(job), delaySeconds: 60, reason: 'waits for the reset' }),
    unlike: (job) => [
      { status: 'running' },
      { attempts: job.attempts },
      { waitReason: 'rate_limited' },
      { waitDetail: null },
      { waitDetail: 'waits for the reset later' },
    ],
  },
  {
    name: 'a snooze without a reason',
    outcome: { kind: 'snooze', until: new Date(Date.now() + 60_000), reason: '  ' },
    record: (client, job) => client.jobs.snooze.mutate({ ...lease(job), delaySeconds: 60 }),
    unlike: () => [{ waitDetail: '' }, { waitDetail: 'another worker’s reason' }],
  },
  {
    name: 'a snooze whose reason was cut to its length',
    outcome: {
      kind: 'snooze',
      until: new Date(Date.now() + 60_000),
      reason: `  ${'w'.repeat(1_000)} and more`,
    },
    record: (client, job) =>
      client.jobs.snooze.mutate({ ...lease(job), delaySeconds: 60, reason: 'w'.repeat(1_000) }),
    unlike: () => [{ waitDetail: 'w'.repeat(998) }],
  },
  {
    name: 'a rate-limited failure',
    outcome: { kind: 'fail', error: new Error('429\0 Too Many Requests'), failure: 'rate_limited' },
    record: (client, job) =>
      client.jobs.fail.mutate({ ...lease(job), error: '429 Too Many Requests', kind: 'rate_limited' }),
    unlike: (job) => [
      { status: 'running' },
      { attempts: job.attempts },
      { waitReason: 'quota_exhausted' },
      { waitReason: null },
      { waitDetail: '429' },
    ],
  },
  {
    name: 'an exhausted quota',
    budget: true,
    outcome: { kind: 'fail', error: new Error('403 quotaExceeded'), failure: 'quota_exhausted' },
    record: (client, job) =>
      client.jobs.fail.mutate({ ...lease(job), error: '403 quotaExceeded', kind: 'quota_exhausted' }),
    unlike: (job) => [{ waitReason: 'rate_limited' }, { attempts: job.attempts }, { status: 'failed' }],
  },
  {
    name: 'a completion',
    outcome: { kind: 'complete', result: { videos: 3 } },
    record: (client, job) =>
      client.jobs.completeMany.mutate({ jobs: [{ ...lease(job), result: { videos: 3 } }] }),
    unlike: (job) => [
      { status: 'running' },
      { status: 'failed' },
      { lockedBy: 'another-worker' },
      { attempts: job.attempts + 1 },
    ],
  },
  {
    name: 'a failure to retry',
    outcome: { kind: 'fail', error: new Error('socket\0 hang up'), failure: 'error' },
    record: (client, job) => client.jobs.fail.mutate({ ...lease(job), error: 'socket hang up' }),
    unlike: (job) => [
      { status: 'running' },
      { status: 'completed' },
      { errorMessage: 'socket hang up / lease expired on the last attempt' },
      { lockedBy: 'another-worker' },
      { attempts: job.attempts + 1 },
      { attempts: job.attempts - 1 },
    ],
  },
  {
    name: 'a failure on the last attempt, its error without a message',
    maxAttempts: 1,
    outcome: { kind: 'fail', error: new TypeError(''), failure: 'error' },
    record: (client, job) => client.jobs.fail.mutate({ ...lease(job), error: 'TypeError' }),
    unlike: () => [{ status: 'running' }, { errorMessage: '' }, { errorMessage: 'Error' }],
  },
  {
    name: 'a permanent failure',
    outcome: { kind: 'fail', error: new Error('transcripts disabled'), failure: 'permanent' },
    record: (client, job) =>
      client.jobs.fail.mutate({ ...lease(job), error: 'transcripts disabled', kind: 'permanent' }),
    unlike: (job) => [
      { status: 'completed' },
      { status: 'running' },
      { errorMessage: 'transcripts' },
      { attempts: job.attempts - 1 },
      { lockedBy: 'another-worker' },
    ],
  },
];

describe('a job read back after an unsure call', () => {
  it.each(cases)(
    'shows $name as the worker’s own only while every field it wrote is as it wrote it',
    async ({ outcome, maxAttempts, budget, record, unlike }) => {
      const db = testDatabase().db;
      if (budget) {
        await setBudget(db, { name: 'youtube-data-api', capacity: 10_000, timeZone: 'America/Los_Angeles' });
        await setJobTypeCost(db, { jobType: 'channel_discovery', budget: 'youtube-data-api', units: 1 });
      }
      await discoveryJobs(1, maxAttempts);
      const client = createClient({ url: api.url });
      const [job] = await client.jobs.claim.mutate({ workerId, limit: 1 });
      await record(client, job!);
      const row = await client.jobs.get.query({ id: job!.id });

      expect(outcomeRecorded(job!, outcome, row, workerId)).toBe(true);
      for (const change of unlike(job!)) {
        expect({ change, recorded: outcomeRecorded(job!, outcome, { ...row, ...change }, workerId) }).toEqual(
          {
            change,
            recorded: false,
          },
        );
      }
    },
  );

  it('shows no worker’s outcome on a job still running under the lease it was claimed with', async () => {
    await discoveryJobs(1);
    const client = createClient({ url: api.url });
    const [job] = await client.jobs.claim.mutate({ workerId, limit: 1 });
    const row = await client.jobs.get.query({ id: job!.id });
    const outcomes: Outcome[] = cases.map((each) => each.outcome);
    expect(outcomes.map((outcome) => outcomeRecorded(job!, outcome, row, workerId))).toEqual(
      outcomes.map(() => false),
    );
  });
});
