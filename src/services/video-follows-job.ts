import type { Knex } from 'knex';
import { type JobStatus, videoStatusForJob } from '../schemas/processing-job';
import { videoStatusFrom } from '../schemas/video';

/**
 * Moves the videos of transcript jobs that just reached `jobStatus` to the video status that goes with it
 * (`videoStatusForJob`), from the statuses that move is legal from; a video elsewhere (completed by an earlier
 * job, say) keeps its status. The videos are locked first, in YouTube id order (see `lock-order.ts`): an UPDATE
 * alone locks rows in whatever order its plan reaches them.
 */
export async function moveVideosWithJobs(
  trx: Knex.Transaction,
  videoIds: readonly string[],
  jobStatus: JobStatus,
  extra: Record<string, unknown> = {},
): Promise<void> {
  if (videoIds.length === 0) return;
  const status = videoStatusForJob[jobStatus];
  await trx('videos')
    .whereIn(
      'id',
      trx('videos')
        .select('id')
        .whereIn('id', [...new Set(videoIds)])
        .whereIn('status', videoStatusFrom[status])
        .orderBy('youtube_video_id')
        .forNoKeyUpdate(),
    )
    .update({ status, ...extra });
}
