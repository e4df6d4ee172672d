import { channelsRouter } from './routers/channels';
import { jobsRouter } from './routers/jobs';
import { sessionsRouter } from './routers/sessions';
import { transcriptsRouter } from './routers/transcripts';
import { videosRouter } from './routers/videos';
import { router } from './trpc';

export const appRouter = router({
  channels: channelsRouter,
  videos: videosRouter,
  transcripts: transcriptsRouter,
  jobs: jobsRouter,
  sessions: sessionsRouter,
});

export type AppRouter = typeof appRouter;
