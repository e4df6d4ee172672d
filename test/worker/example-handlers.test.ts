import { describe, expect, it } from 'vitest';
import type { Tasks } from '../../src/client';
import { createTestWorker } from '../support/test-worker';
import {
  channelFactory,
  processingJobFactory,
  processingSessionFactory,
  transcriptFactory,
  videoFactory,
} from '../../dev/factories';
import { languageTags } from '../../dev/factories/speech';
import { enqueueJobs } from '../../src/queue/job-queue';
import { exampleHandlers } from '../../dev/example-handlers';
import { testDatabase } from '../support/database';
import { until } from '../support/until';
import { useWorkerApi } from '../support/worker-api';

const api = useWorkerApi();
const db = () => testDatabase().db;

/** Runs `tasks` on a worker until every job of the database is finished, completed or failed. */
async function runUntilSettled(tasks: Tasks, settled: () => Promise<boolean>) {
  const worker = createTestWorker({ url: api.url, concurrency: 4, waitMs: 200, tasks });
  try {
    worker.start();
    await until(settled);
    await worker.stop();
  } finally {
    await worker.stop();
  }
}

describe('the example handlers', () => {
  it('discover three new videos per channel and queue their transcripts in the discovery’s session, then store each transcript', async () => {
    const [inSession, alone] = await channelFactory.createList(2);
    const session = await processingSessionFactory.trait('running').create();
    const [sessionDiscovery, loneDiscovery] = await enqueueJobs(db(), [
      { jobType: 'channel_discovery', entityType: 'channel', entityId: inSession!.id, sessionId: session.id },
      { jobType: 'channel_discovery', entityType: 'channel', entityId: alone!.id },
    ]);
    const jobs = () => db()('processing_jobs');
    await runUntilSettled(exampleHandlers({ workMs: 0, failureRate: 0 }), async () => {
      const rows = await jobs();
      return rows.length === 8 && rows.every((row: { status: string }) => row.status === 'completed');
    });

    for (const [discovery, channel, sessionId] of [
      [sessionDiscovery!, inSession!, session.id],
      [loneDiscovery!, alone!, null],
    ] as const) {
      expect(await jobs().where({ id: discovery.id }).first()).toMatchObject({
        result: { videosFound: 3, newVideos: 3 },
      });
      const videos = await db()('videos').where({ channel_id: channel.id });
      expect(videos).toHaveLength(3);
      const transcriptJobs = await jobs().whereIn(
        'entity_id',
        videos.map((video: { id: string }) => video.id),
      );
      expect(transcriptJobs.map((job: { session_id: string | null }) => job.session_id)).toEqual([
        sessionId,
        sessionId,
        sessionId,
      ]);
      for (const job of transcriptJobs) {
        const transcript = await db()('transcripts').where({ video_id: job.entity_id }).first();
        expect(job.result).toEqual({ wordCount: transcript.word_count, language: transcript.language });
      }
    }
  });

  it('complete a transcript job whose transcript is there already with that transcript, storing none twice', async () => {
    const video = await videoFactory.create();
    // One in every language the handler may draw, so the one it draws is there already.
    const stored = await Promise.all(
      [...new Set(languageTags.en)].map((language) =>
        transcriptFactory.create({ videoId: video.id, language, source: 'youtube_auto' }),
      ),
    );
    const job = await processingJobFactory.create({ entityId: video.id });
    await runUntilSettled(
      exampleHandlers({ workMs: 0, failureRate: 0 }),
      async () => (await db()('processing_jobs').where({ id: job.id }).first()).status === 'completed',
    );
    const { result } = await db()('processing_jobs').where({ id: job.id }).first();
    const existing = stored.find((transcript) => transcript.language === result.language)!;
    expect(result).toEqual({ wordCount: existing.wordCount, language: existing.language });
    expect(await db()('transcripts').where({ video_id: video.id })).toHaveLength(stored.length);
  });

  it('fail their jobs, to be retried, at the failure rate they are given', async () => {
    const channel = await channelFactory.create();
    const [discovery] = await enqueueJobs(db(), [
      { jobType: 'channel_discovery', entityType: 'channel', entityId: channel.id },
    ]);
    await runUntilSettled(
      exampleHandlers({ workMs: 0, failureRate: 1 }),
      // Not `attempts === 1`: that is true from the claim, and a worker stopping before the claim's response reaches it
      // releases the job unfailed.
      async () => (await db()('processing_jobs').where({ id: discovery!.id }).first()).error_message !== null,
    );
    expect(await db()('processing_jobs').where({ id: discovery!.id }).first()).toMatchObject({
      status: 'queued',
      attempts: 1,
      error_message: 'example failure: the YouTube call timed out',
    });
  });
});
