import type { Knex } from 'knex';
import { type JobStatus, videoStatusForJob } from '../schemas/processing-job';
import { videoStatusFrom } from '../schemas/video';

/**
 * Moves the videos of transcript jobs that just reached `jobStatus` to the video status that goes with it
 * (`videoStatusForJob`), from the statuses that move is legal from; a video elsewhere (completed by an earlier
 * job, say) keeps its status. Ids are sorted so concurrent moves lock videos in one order.
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
    .whereIn('id', [...new Set(videoIds)].sort())
    .whereIn('status', videoStatusFrom[status])
    .update({ status, ...extra });
}
