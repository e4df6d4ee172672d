import { describe, expect, it } from 'vitest';
import { previewBulk } from '../../src/queue/bulk';
import { bulkPreviewInput, maxBulkCount } from '../../src/schemas/job-bulk';
import { testDatabase } from '../support/database';

const db = () => testDatabase().db;

// A file of its own: the other bulk tests would wait on this many rows after it.
describe('a bulk preview at its count limit', () => {
  it(`counts up to ${maxBulkCount} jobs exactly, and one more as that many or more`, async () => {
    // Rows written by one statement (the factories would take minutes over this many), each of its own entity,
    // with the key the insert trigger would otherwise look up row by row.
    const insertFailed = (count: number) =>
      db().raw(
        `INSERT INTO processing_jobs (job_type, entity_type, entity_id, rate_key, status, completed_at)
         SELECT 'transcript_extraction', 'video', gen_random_uuid(), 'egress:bulk', 'failed', now()
           FROM generate_series(1, ?)`,
        [count],
      );
    const preview = () => previewBulk(db(), bulkPreviewInput.parse({ action: 'retry', sampleSize: 0 }));
    await insertFailed(maxBulkCount);
    expect(await preview()).toEqual({ count: maxBulkCount, exact: true, sample: [] });
    await insertFailed(1);
    expect(await preview()).toEqual({ count: maxBulkCount, exact: false, sample: [] });
  });
});
