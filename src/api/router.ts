import { budgetsRouter } from './routers/budgets';
import { channelsRouter } from './routers/channels';
import { jobAdminRouter } from './routers/job-admin';
import { jobsRouter } from './routers/jobs';
import { rateKeysRouter } from './routers/rate-keys';
import { sessionsRouter } from './routers/sessions';
import { transcriptsRouter } from './routers/transcripts';
import { videosRouter } from './routers/videos';
import { mergeRouters, router } from './trpc';

export const appRouter = router({
  channels: channelsRouter,
  videos: videosRouter,
  transcripts: transcriptsRouter,
  jobs: mergeRouters(jobsRouter, jobAdminRouter),
  sessions: sessionsRouter,
  budgets: budgetsRouter,
  rateKeys: rateKeysRouter,
});

export type AppRouter = typeof appRouter;
