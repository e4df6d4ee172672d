import { describe, expect, it } from 'vitest';
import { channelFactory } from '../../dev/factories';
import { enqueueJobs } from '../../src/queue/job-queue';
import { testDatabase } from '../support/database';

const db = () => testDatabase().db;

describe('an enqueue that leaves fields out', () => {
  it("gives them their columns' defaults, as a plain insert does", async () => {
    const [enqueuedFor, insertedFor] = await channelFactory.createList(2);
    const [enqueued] = await enqueueJobs(db(), [
      { jobType: 'channel_discovery', entityType: 'channel', entityId: enqueuedFor!.id },
    ]);
    const [inserted] = await db()('processing_jobs')
      .insert({ job_type: 'channel_discovery', entity_type: 'channel', entity_id: insertedFor!.id })
      .returning('*');
    const stored = await db()('processing_jobs').where('id', enqueued!.id).first();

    const defaulted = ['priority', 'max_attempts', 'metadata', 'session_id', 'status', 'attempts', 'held'];
    const pick = (row: Record<string, unknown>) =>
      Object.fromEntries(defaulted.map((name) => [name, row[name]]));
    expect(pick(stored)).toEqual(pick(inserted));
    // `run_after` defaults to the time of the write, as `created_at` does.
    expect(stored.run_after).toEqual(stored.created_at);
    expect(inserted.run_after).toEqual(inserted.created_at);
  });
});
