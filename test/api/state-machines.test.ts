import { describe, expect, it } from 'vitest';
import { processingSessionFactory, videoFactory } from '../../src/factories';
import { sessionStatuses, type SessionStatus } from '../../src/schemas/processing-session';
import { videoStatuses, type VideoStatus } from '../../src/schemas/video';
import { useApi } from '../support/api';

const api = useApi();

/** Written out, not read from the code: every move a video's status may make by `videos.update`. */
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

const videoPairs = videoStatuses.flatMap((from) => videoStatuses.map((to) => ({ from, to })));

describe('the video state machine, every (from, to) pair', () => {
  it.each(videoPairs)('$from -> $to', async ({ from, to }: { from: VideoStatus; to: VideoStatus }) => {
    const video = await videoFactory.create({ status: from });
    const answer = await api.mutate<{ status: VideoStatus; processedAt: Date | null }>('videos.update', {
      id: video.id,
      status: to,
    });
    if (from === to || videoMoves.has(`${from}>${to}`)) {
      expect(answer.status).toBe(200);
      expect(answer.data.status).toBe(to);
      if (to === 'completed' && from !== to) expect(answer.data.processedAt).toBeInstanceOf(Date);
    } else {
      expect(answer.status).toBe(409);
      expect(answer.error?.data.field).toBe('status');
      const read = await api.query<{ status: VideoStatus }>('videos.get', { id: video.id });
      expect(read.data.status).toBe(from);
    }
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
    const answer = await api.mutate<{
      status: SessionStatus;
      startedAt: Date | null;
      completedAt: Date | null;
    }>(`sessions.${transition}`, { id: session.id });
    const move = sessionMoves[transition];
    if (move.from.includes(from)) {
      expect(answer.status).toBe(200);
      expect(answer.data.status).toBe(move.to);
      if (transition === 'start') expect(answer.data.startedAt).toBeInstanceOf(Date);
      if (move.to === 'completed' || move.to === 'failed')
        expect(answer.data.completedAt).toBeInstanceOf(Date);
    } else {
      expect(answer.status).toBe(409);
      const read = await api.query<{ status: SessionStatus }>('sessions.get', { id: session.id });
      expect(read.data.status).toBe(from);
    }
  });
});
