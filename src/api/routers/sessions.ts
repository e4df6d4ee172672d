import { byId, uuid } from '../../schemas/fields';
import { listJobsInput } from '../../schemas/processing-job';
import {
  createSessionInput,
  listSessionsInput,
  processingSessionSchema,
  updateSessionInput,
} from '../../schemas/processing-session';
import { jobWithRelations, pageOf, sessionProgress } from '../../schemas/responses';
import { listSessionJobs } from '../../services/processing-jobs';
import * as sessions from '../../services/processing-sessions';
import { procedure, restRoutes, router } from '../trpc';

const route = restRoutes('sessions');

/** A lifecycle move, at `POST /sessions/{id}/<move>`. */
const transition = (move: sessions.Transition, summary: string) =>
  procedure
    .meta(route('POST', `/sessions/{id}/${move}`, summary))
    .input(byId)
    .output(processingSessionSchema)
    .mutation(({ input, ctx }) => sessions.transitionSession(ctx.db, input.id, move));

export const sessionsRouter = router({
  create: procedure
    .meta(route('POST', '/sessions', 'Open a processing session'))
    .input(createSessionInput)
    .output(processingSessionSchema)
    .mutation(({ input, ctx }) => sessions.createSession(ctx.db, input)),
  get: procedure
    .meta(route('GET', '/sessions/{id}', 'Read a session'))
    .input(byId)
    .output(processingSessionSchema)
    .query(({ input, ctx }) => sessions.getSession(ctx.db, input.id)),
  list: procedure
    .meta(route('GET', '/sessions', 'List sessions, newest first'))
    .input(listSessionsInput)
    .output(pageOf(processingSessionSchema))
    .query(({ input, ctx }) => sessions.listSessions(ctx.db, input)),
  update: procedure
    .meta(route('PATCH', '/sessions/{id}', 'Change a session'))
    .input(updateSessionInput)
    .output(processingSessionSchema)
    .mutation(({ input, ctx }) => sessions.updateSession(ctx.db, input)),
  delete: procedure
    .meta(route('DELETE', '/sessions/{id}', 'Delete a session; its jobs stay, without a session'))
    .input(byId)
    .output(processingSessionSchema)
    .mutation(({ input, ctx }) => sessions.deleteSession(ctx.db, input.id)),
  start: transition('start', 'Start a pending session'),
  pause: transition('pause', 'Pause a running session'),
  resume: transition('resume', 'Resume a paused session'),
  complete: transition('complete', 'Mark a session completed'),
  fail: transition('fail', 'Mark a session failed'),
  progress: procedure
    .meta(route('GET', '/sessions/{id}/progress', "Count a session's jobs per status, with rate and ETA"))
    .input(byId)
    .output(sessionProgress)
    .query(({ input, ctx }) => sessions.sessionProgress(ctx.db, input.id)),
  jobs: procedure
    .meta(route('GET', '/sessions/{sessionId}/jobs', "List a session's jobs, newest first"))
    .input(listJobsInput.omit({ sessionId: true }).extend({ sessionId: uuid }))
    .output(pageOf(jobWithRelations))
    .query(({ input, ctx }) => listSessionJobs(ctx.db, input)),
});
