import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { channelFactory } from '../../dev/factories';
import { nestedPlan, nestedPlanSettings, type PlanNode } from '../../dev/nested-plans';
import { enqueueJobs } from '../../src/queue/job-queue';
import { testDatabase } from '../support/database';

const db = () => testDatabase().db;

/** How many rows of processing_jobs the scans of a plan read: the rows they kept and the ones they filtered out. */
function jobRowsRead(node: PlanNode): number {
  const own =
    node['Relation Name'] === 'processing_jobs'
      ? ((node['Actual Rows'] ?? 0) + (node['Rows Removed by Filter'] ?? 0)) * (node['Actual Loops'] ?? 1)
      : 0;
  return own + (node.Plans ?? []).reduce((sum, child) => sum + jobRowsRead(child), 0);
}

/** Runs one claim on a connection of its own, rolled back, and sums the job rows its statements read. */
async function jobRowsReadByClaim(jobType: string): Promise<{ claimed: number; read: number }> {
  const client = (await db().client.acquireConnection()) as pg.PoolClient;
  const plans: PlanNode[] = [];
  const onNotice = (notice: { message?: string }) => {
    const plan = nestedPlan(notice.message ?? '');
    if (plan) plans.push(plan);
  };
  try {
    await client.query('BEGIN');
    for (const setting of nestedPlanSettings) await client.query(setting);
    client.on('notice', onNotice);
    const { rowCount } = await client.query(
      `SELECT * FROM claim_jobs('reader', $1::text[], 10, 60, '{queued}', '{processing}', NULL)`,
      [[jobType]],
    );
    return { claimed: rowCount ?? 0, read: plans.reduce((sum, plan) => sum + jobRowsRead(plan), 0) };
  } finally {
    client.off('notice', onNotice);
    await client.query('ROLLBACK');
    await db().client.releaseConnection(client);
  }
}

describe('a claim for one type', () => {
  it("reads that type's jobs in claim order and stops at its limit, whatever another type's backlog", async () => {
    // A backlog of 3,000 due transcript jobs beside one discovery job, over 30,000 finished discovery jobs (the
    // proportions that made the planner read the backlog), with the planner told of them.
    await db().raw(
      `INSERT INTO processing_jobs (job_type, entity_type, entity_id, run_after)
       SELECT 'transcript_extraction', 'video', gen_random_uuid(), now() - interval '1 hour'
         FROM generate_series(1, 3000)`,
    );
    const [channel] = await channelFactory.createList(1);
    await enqueueJobs(db(), [{ jobType: 'channel_discovery', entityType: 'channel', entityId: channel!.id }]);
    await db().raw(
      `INSERT INTO processing_jobs (job_type, entity_type, entity_id, status, completed_at, rate_key)
       SELECT 'channel_discovery', 'channel', gen_random_uuid(), 'completed', now(), 'channel:finished'
         FROM generate_series(1, 30000)`,
    );
    await db().raw('ANALYZE processing_jobs');

    const { claimed, read } = await jobRowsReadByClaim('channel_discovery');
    expect(claimed).toBe(1);
    // The discovery job, read by the candidates' scan and again by the statements that lease it (4 rows); none of
    // the backlog. A claim whose plan read every due job and sorted them read 3,004.
    expect(read).toBeLessThan(20);
  });
});
