import { describe, expect, it } from 'vitest';
import { channelFactory } from '../../dev/factories';
import { enqueueJobs } from '../../src/queue/job-queue';
import { testDatabase } from '../support/database';

describe('an enqueue while tracing is off', () => {
  it('leaves its jobs without a traceparent, rather than one of zeros', async () => {
    const channel = await channelFactory.create();
    const [job] = await enqueueJobs(testDatabase().db, [
      { jobType: 'channel_discovery', entityType: 'channel', entityId: channel.id },
    ]);
    expect((await testDatabase().db('processing_jobs').where('id', job!.id).first()).traceparent).toBeNull();
  });
});
