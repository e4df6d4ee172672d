import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { channelFactory, processingSessionFactory, videoFactory } from '../../dev/factories';
import type { JobStatus } from '../../src/schemas/processing-job';
import { sessionStatuses, type SessionStatus } from '../../src/schemas/processing-session';
import { videoStatuses, type VideoStatus } from '../../src/schemas/video';
import { moveVideosWithJobs } from '../../src/services/video-follows-job';
import { useApi } from '../support/api';
import { testDatabase } from '../support/database';

const api = useApi();

/** Written out, not read from the code: every move a video's status may make as its transcript job moves. */
const videoMoves = new Set([
  'discovered>queued',
  'queued>processing',
  'queued>discovered',
  'processing>completed',
  'processing>failed',
  'processing>queued',
  'processing>discovered',
  'failed>queued',
]);

/** The job status that moves a video to each status: queued, claimed, completed, failed for good, cancelled. */
const jobStatusToReach: Record<VideoStatus, JobStatus> = {
  discovered: 'cancelled',
  queued: 'queued',
  processing: 'running',
  completed: 'completed',
  failed: 'failed',
};

const videoPairs = videoStatuses.flatMap((from) => videoStatuses.map((to) => ({ from, to })));

const statusOf = async (id: string) =>
  (await testDatabase().db('videos').where({ id }).first<{ status: VideoStatus }>()).status;

describe('the video state machine, every (from, to) pair', () => {
  it.each(videoPairs)('$from -> $to', async ({ from, to }: { from: VideoStatus; to: VideoStatus }) => {
    const video = await videoFactory.create({ status: from });
    await testDatabase().db.transaction((trx) => moveVideosWithJobs(trx, [video.id], jobStatusToReach[to]));
    const moved = from === to || videoMoves.has(`${from}>${to}`);
    expect(await statusOf(video.id)).toBe(moved ? to : from);
  });
});

describe('a video status a client writes', () => {
  it.each(videoStatuses)(
    '%s is rejected by videos.update on both transports, naming status',
    async (status) => {
      const video = await videoFactory.create();
      const trpc = await api.mutate('videos.update', { id: video.id, status });
      expect(trpc.status).toBe(400);
      expect(trpc.error?.data.field).toBe('status');
      expect(trpc.error?.message).toBe(
        "status: follows the video's transcript job: enqueue, cancel or retry the job to move it",
      );
      const rest = await request(api.app.server)
        .patch(`/api/videos/${video.id}`)
        .send({ status, title: 'New' });
      expect(rest.status).toBe(400);
      expect(rest.body).toMatchObject({ code: 'BAD_REQUEST', field: 'status' });
      expect(await testDatabase().db('videos').where({ id: video.id }).first()).toMatchObject({
        status: 'discovered',
        title: video.title,
      });
    },
  );

  it.each(videoStatuses.filter((status) => status !== 'discovered'))(
    '%s is rejected by videos.create on both transports, naming status; no video is made',
    async (status) => {
      const input = { ...videoFactory.build({ channelId: (await channelFactory.create()).id }), status };
      const trpc = await api.mutate('videos.create', input);
      expect(trpc.status).toBe(400);
      expect(trpc.error?.data.field).toBe('status');
      const rest = await request(api.app.server).post('/api/videos').send(input);
      expect(rest.status).toBe(400);
      expect(rest.body).toMatchObject({
        field: 'status',
        message: expect.stringMatching(/^status: must be discovered/),
      });
      expect(await testDatabase().db('videos').where({ youtube_video_id: input.youtubeVideoId })).toEqual([]);
    },
  );

  it('discovered, the status a video starts in, is taken by videos.create', async () => {
    const input = videoFactory.build({ channelId: (await channelFactory.create()).id, status: 'discovered' });
    const created = await api.mutate<{ status: VideoStatus }>('videos.create', input);
    expect(created.data.status).toBe('discovered');
  });
});

const transitions = ['start', 'pause', 'resume', 'complete', 'fail'] as const;

/** Written out: each transition and the statuses it leaves from, to where. */
const sessionMoves: Record<(typeof transitions)[number], { from: SessionStatus[]; to: SessionStatus }> = {
  start: { from: ['pending'], to: 'running' },
  pause: { from: ['running'], to: 'paused' },
  resume: { from: ['paused'], to: 'running' },
  complete: { from: ['running', 'paused'], to: 'completed' },
  fail: { from: ['pending', 'running', 'paused'], to: 'failed' },
};

const sessionPairs = sessionStatuses.flatMap((from) =>
  transitions.map((transition) => ({ from, transition })),
);

describe('the session state machine, every (status, transition) pair', () => {
  it.each(sessionPairs)('$from, then $transition', async ({ from, transition }) => {
    const session = await processingSessionFactory.create({ status: from });
    const response = await api.mutate<{
      status: SessionStatus;
      startedAt: Date | null;
      completedAt: Date | null;
    }>(`sessions.${transition}`, { id: session.id });
    const move = sessionMoves[transition];
    if (move.from.includes(from)) {
      expect(response.status).toBe(200);
      expect(response.data.status).toBe(move.to);
      if (transition === 'start') expect(response.data.startedAt).toBeInstanceOf(Date);
      if (move.to === 'completed' || move.to === 'failed')
        expect(response.data.completedAt).toBeInstanceOf(Date);
    } else {
      expect(response.status).toBe(409);
      const read = await api.query<{ status: SessionStatus }>('sessions.get', { id: session.id });
      expect(read.data.status).toBe(from);
    }
  });
});
