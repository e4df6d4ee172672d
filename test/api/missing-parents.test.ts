import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { useApi } from '../support/api';

const api = useApi();
const missing = '00000000-0000-4000-8000-00000000beef';

/** Each call about a parent's children, with the input field the parent's id comes in. */
const childLists = [
  {
    procedure: 'channels.videos',
    rest: `/api/channels/${missing}/videos`,
    field: 'channelId',
    parent: 'channel',
  },
  {
    procedure: 'channels.videoCounts',
    rest: `/api/channels/${missing}/video-counts`,
    field: 'channelId',
    parent: 'channel',
  },
  {
    procedure: 'videos.transcripts',
    rest: `/api/videos/${missing}/transcripts`,
    field: 'videoId',
    parent: 'video',
  },
  {
    procedure: 'sessions.jobs',
    rest: `/api/sessions/${missing}/jobs`,
    field: 'sessionId',
    parent: 'processing session',
  },
];

describe('a call about the children of a parent that does not exist', () => {
  it.each(childLists)(
    '$procedure responds with 404 naming $field, on both transports',
    async ({ procedure, rest, field, parent }) => {
      const trpc = await api.query(procedure, { [field]: missing });
      expect(trpc.status).toBe(404);
      expect(trpc.error).toMatchObject({
        message: `${parent} ${missing} not found`,
        data: { code: 'NOT_FOUND', field },
      });
      const http = await request(api.app.server).get(rest);
      expect(http.status).toBe(404);
      expect(http.body).toMatchObject({
        code: 'NOT_FOUND',
        field,
        message: `${parent} ${missing} not found`,
      });
    },
  );
});
