import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { channelFactory } from '../../dev/factories';
import { nestedPlan, nestedPlanSettings, type PlanNode } from '../../dev/nested-plans';
import { enqueueJobs } from '../../src/queue/job-queue';
import { testDatabase } from '../support/database';

const db = () => testDatabase().db;

/** How many rows of a table the scans of a plan read: the rows they kept and the ones they filtered out. */
function rowsRead(node: PlanNode, table: string): number {
  const own =
    node['Relation Name'] === table
      ? ((node['Actual Rows'] ?? 0) + (node['Rows Removed by Filter'] ?? 0)) * (node['Actual Loops'] ?? 1)
      : 0;
  return own + (node.Plans ?? []).reduce((sum, child) => sum + rowsRead(child, table), 0);
}

/** Runs one claim on a connection of its own, rolled back, and sums the rows of a table its statements read. */
async function rowsReadByClaim(jobType: string, table: string): Promise<{ claimed: string[]; read: number }> {
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
    const { rows } = await client.query<{ entity_id: string }>(
      `SELECT * FROM claim_jobs('reader', $1::text[], 10, 60, '{queued}', '{processing}', NULL)`,
      [[jobType]],
    );
    return {
      claimed: rows.map((row) => row.entity_id),
      read: plans.reduce((sum, plan) => sum + rowsRead(plan, table), 0),
    };
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

    const { claimed, read } = await rowsReadByClaim('channel_discovery', 'processing_jobs');
    expect(claimed).toEqual([channel!.id]);
    // The discovery job, read by the candidates' scan and again by the statements that lease it (4 rows); none of
    // the backlog. A claim whose plan read every due job and sorted them read 3,004.
    expect(read).toBeLessThan(20);
  });
});

describe('a claim beside many keys that were rate limited once', () => {
  it('finds the keys it may not start under without reading every key', async () => {
    // 3,000 keys whose cool-downs ended long ago keep their rows, in a table that held 50,000 (its pages make a
    // generic plan read it whole rather than through an index it expects a third of the keys from); one key cools
    // down now.
    await db().raw(
      `INSERT INTO rate_keys (key, cooldown_until, rate_limited_in_a_row)
       SELECT 'channel:' || gen_random_uuid(), now() - interval '1 day', 0 FROM generate_series(1, 50000)`,
    );
    await db().raw(`DELETE FROM rate_keys WHERE ctid IN (SELECT ctid FROM rate_keys LIMIT 47000)`);
    await db().raw('VACUUM ANALYZE rate_keys');
    const [free, cooling] = await channelFactory.createList(2);
    await db()('rate_keys').insert({
      key: `channel:${cooling!.id}`,
      cooldown_until: db().raw("now() + interval '1 hour'"),
    });
    await enqueueJobs(
      db(),
      [free!, cooling!].map((channel) => ({
        jobType: 'channel_discovery' as const,
        entityType: 'channel' as const,
        entityId: channel.id,
      })),
    );

    const { claimed, read } = await rowsReadByClaim('channel_discovery', 'rate_keys');
    expect(claimed).toContain(free!.id);
    expect(claimed).not.toContain(cooling!.id);
    // The cooling key, found through its cool-down's index. A claim that read every key read 3,001.
    expect(read).toBeLessThan(20);
  });
});
