import { z } from 'zod';
import { uuid } from '../../schemas/fields';
import { listJobsInput } from '../../schemas/processing-job';
import { createSessionInput, listSessionsInput, updateSessionInput } from '../../schemas/processing-session';
import { listSessionJobs } from '../../services/processing-jobs';
import * as sessions from '../../services/processing-sessions';
import { procedure, router } from '../trpc';

const byId = z.strictObject({ id: uuid });

export const sessionsRouter = router({
  create: procedure.input(createSessionInput).mutation(({ input }) => sessions.createSession(input)),
  get: procedure.input(byId).query(({ input }) => sessions.getSession(input.id)),
  list: procedure.input(listSessionsInput).query(({ input }) => sessions.listSessions(input)),
  update: procedure.input(updateSessionInput).mutation(({ input }) => sessions.updateSession(input)),
  delete: procedure.input(byId).mutation(({ input }) => sessions.deleteSession(input.id)),
  start: procedure.input(byId).mutation(({ input }) => sessions.transitionSession(input.id, 'start')),
  pause: procedure.input(byId).mutation(({ input }) => sessions.transitionSession(input.id, 'pause')),
  resume: procedure.input(byId).mutation(({ input }) => sessions.transitionSession(input.id, 'resume')),
  complete: procedure.input(byId).mutation(({ input }) => sessions.transitionSession(input.id, 'complete')),
  fail: procedure.input(byId).mutation(({ input }) => sessions.transitionSession(input.id, 'fail')),
  progress: procedure.input(byId).query(({ input }) => sessions.sessionProgress(input.id)),
  jobs: procedure
    .input(listJobsInput.omit({ sessionId: true }).extend({ sessionId: uuid }))
    .query(({ input }) => listSessionJobs(input)),
});
