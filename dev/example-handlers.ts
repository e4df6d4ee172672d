import { setTimeout as sleep } from 'node:timers/promises';
import { TRPCClientError } from '@trpc/client';
import { discoveredVideos, transcriptFactory } from './factories';
import type { Tasks } from '../src/worker';

/**
 * Example handlers in place of the YouTube calls of TubeSensei's next phases, so that `npm start`, `npm run seed`
 * and `npm run worker` show jobs and sessions moving end to end. Discovery "finds" a few new videos made by the factories and
 * queues their transcripts in the same session, with its completion; transcript extraction stores a factory
 * transcript. Each takes `workMs` and fails (retryably) at `failureRate`. Their results have their job type's shape
 * (`jobResults`).
 */
export function exampleHandlers({ workMs, failureRate }: { workMs: number; failureRate: number }): Tasks {
  const work = async (signal: AbortSignal) => {
    await sleep(workMs * (0.5 + Math.random()), undefined, { signal });
    if (Math.random() < failureRate) throw new Error('example failure: the YouTube call timed out');
  };
  return {
    channel_discovery: async (job, { api, signal, followUp }) => {
      await work(signal);
      const videos = discoveredVideos(3);
      const upserted = await api.videos.upsertMany.mutate({ channelId: job.entityId, videos });
      const found = await Promise.all(
        videos.map((video) => api.videos.getByYoutubeId.query({ youtubeVideoId: video.youtubeVideoId })),
      );
      followUp(
        ...found.map((video) => ({
          jobType: 'transcript_extraction' as const,
          entityType: 'video' as const,
          entityId: video.id,
          ...(job.sessionId ? { sessionId: job.sessionId } : {}),
        })),
      );
      return { videosFound: videos.length, newVideos: upserted.inserted };
    },
    transcript_extraction: async (job, { api, signal }) => {
      await work(signal);
      const transcript = transcriptFactory.build({ videoId: job.entityId });
      const stored = await api.transcripts.create.mutate(transcript).catch(async (error: unknown) => {
        // A transcript in that language and source is there already: the job's work is done.
        if (!(error instanceof TRPCClientError && error.data?.code === 'CONFLICT')) throw error;
        const { items } = await api.transcripts.list.query({
          videoId: job.entityId,
          language: transcript.language ?? 'en',
          source: transcript.source,
          limit: 1,
        });
        return items[0]!;
      });
      return { wordCount: stored.wordCount ?? 0, language: stored.language ?? 'en' };
    },
  };
}
