import type { Knex } from 'knex';

/**
 * Every write that touches several tables takes its row locks in one order: jobs (by type and entity, the
 * order of the one-active-job index an enqueue locks them in), then videos (by YouTube id, the order an upsert
 * writes them in), then channels, then sessions. An UPDATE locks rows in whatever order its plan reaches them,
 * so a write over several rows locks them first with a sorted `FOR UPDATE` (the claim and the batch completion
 * do so inside their SQL functions in src/queue/sql/). A delete, which PostgreSQL would otherwise run
 * from the parent down (channel, its videos, then the jobs its triggers remove), locks what it will remove in
 * this order first, so a delete and a worker completing the same rows' jobs queue behind each other.
 *
 * One exception is left to the retries of `lost-races.ts`: a job entering a session's queue reads the session
 * under KEY SHARE as each row is inserted, between that enqueue's job locks, and a transition that moves the
 * session's jobs (pause, resume, complete, fail) locks its jobs and then the session FOR UPDATE. The two can meet
 * in opposite orders; taking the session first in both would instead make every transition wait on, and
 * deadlock with, workers completing the session's jobs, which is the hotter path.
 */

/** Locks, in key order, the jobs about these channels and videos, and about the videos of a channel. */
export async function lockJobsAbout(
  trx: Knex.Transaction,
  about: { channelIds?: string[]; videoIds?: string[]; videosOfChannel?: string },
): Promise<void> {
  await trx('processing_jobs')
    .where((query) => {
      if (about.channelIds?.length)
        query.orWhere((q) => q.where('entity_type', 'channel').whereIn('entity_id', about.channelIds!));
      if (about.videoIds?.length)
        query.orWhere((q) => q.where('entity_type', 'video').whereIn('entity_id', about.videoIds!));
      if (about.videosOfChannel)
        query.orWhere((q) =>
          q
            .where('entity_type', 'video')
            .whereIn('entity_id', trx('videos').select('id').where('channel_id', about.videosOfChannel!)),
        );
    })
    .orderBy(['job_type', 'entity_type', 'entity_id', 'id'])
    .forUpdate()
    .select('id');
}

/** Locks a channel's videos in YouTube id order, the order `videos.upsertMany` writes them in. */
export async function lockVideosOfChannel(trx: Knex.Transaction, channelId: string): Promise<void> {
  await trx('videos').where('channel_id', channelId).orderBy('youtube_video_id').forUpdate().select('id');
}

/**
 * Locks a session's jobs in key order (only its queued and running ones with `active`), before the session (and
 * with it its counts) changes or goes.
 */
export async function lockJobsOfSession(
  trx: Knex.Transaction,
  sessionId: string,
  { active = false } = {},
): Promise<void> {
  const jobs = trx('processing_jobs').where('session_id', sessionId);
  if (active) jobs.whereIn('status', ['queued', 'running']);
  await jobs.orderBy(['job_type', 'entity_type', 'entity_id', 'id']).forUpdate().select('id');
}

/** Locks, in YouTube id order, the videos of a session's queued jobs: the ones a cancelling transition moves. */
export async function lockVideosOfQueuedJobs(trx: Knex.Transaction, sessionId: string): Promise<void> {
  await trx('videos')
    .whereIn(
      'id',
      trx('processing_jobs')
        .select('entity_id')
        .where({ session_id: sessionId, status: 'queued', entity_type: 'video' }),
    )
    .orderBy('youtube_video_id')
    .forUpdate()
    .select('id');
}
