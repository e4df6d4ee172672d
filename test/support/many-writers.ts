import { base, Faker } from '@faker-js/faker';
import { TRPCClientError } from '@trpc/client';
import type { Knex } from 'knex';
import { createClient } from '../../src/client';
import { channelFactory, discoveredVideos } from '../../dev/factories';
import type { ClaimedJob } from '../../src/schemas/processing-job';
import type { SessionStatus } from '../../src/schemas/processing-session';

/**
 * TubeSensei's real load, compressed: discovery workers refreshing the same channels in different orders,
 * transcript workers claiming and finishing jobs, and an admin editing, deleting and re-creating the same rows
 * and moving sessions, all at once over HTTP on a small set of overlapping keys. The workload is a fixed number
 * of each operation (`operationCounts` times `rounds`), shuffled by a generator seeded with `seed` and dealt to
 * the clients in turn, so every run issues every operation; each operation first makes what it needs when it is
 * missing (a channel, videos, a job to hold). Every response is tallied per procedure; the data's invariants are
 * checked afterwards by `invariantViolations`.
 */

export interface ManyWritersOptions {
  /** API base URLs; clients take turns over them (several API processes). */
  urls: string[];
  token?: string;
  clients: number;
  /**
   * Seeds the workload's choices: which operations each client performs, in which order (fixed by the seed), and
   * on which rows (drawn as the clients' calls interleave).
   */
  seed: number;
  /** How many times the workload holds each operation's count. */
  rounds: number;
  /** Distinct channels the clients fight over. */
  channels?: number;
  /** YouTube ids per channel. */
  videosPerChannel?: number;
}

export interface ProcedureTally {
  calls: number;
  ok: number;
  /** Responses by tRPC code, for everything that was not ok. */
  rejected: Record<string, number>;
  /** 5xx responses: must stay 0. */
  serverErrors: number;
}

export type Report = Record<string, ProcedureTally>;

type Client = ReturnType<typeof createClient>;

/** Each operation of the workload, and how many of it a round holds: what each kind of user does most, most. */
const operationCounts = {
  discover: 4,
  queueTranscripts: 3,
  queueDiscovery: 1,
  claim: 3,
  completeMany: 2,
  complete: 1,
  fail: 1,
  heartbeat: 1,
  release: 1,
  cancel: 1,
  abandon: 1,
  requeue: 1,
  retry: 1,
  moveJob: 1,
  editVideo: 1,
  deleteVideo: 1,
  deleteChannel: 1,
  editChannel: 1,
  createSession: 1,
  startSession: 1,
  pauseSession: 1,
  resumeSession: 1,
  completeSession: 1,
  failSession: 1,
  sessionProgress: 1,
  deleteSession: 1,
} as const;
type Operation = keyof typeof operationCounts;

/** The procedure each operation is about: every run calls each of these. */
export const operationProcedures: Record<Operation, string> = {
  discover: 'videos.upsertMany',
  queueTranscripts: 'jobs.enqueueMany',
  queueDiscovery: 'jobs.enqueue',
  claim: 'jobs.claim',
  completeMany: 'jobs.completeMany',
  complete: 'jobs.complete',
  fail: 'jobs.fail',
  heartbeat: 'jobs.heartbeat',
  release: 'jobs.release',
  cancel: 'jobs.cancel',
  abandon: 'jobs.claim',
  requeue: 'jobs.requeue',
  retry: 'jobs.retry',
  moveJob: 'jobs.update',
  editVideo: 'videos.update',
  deleteVideo: 'videos.delete',
  deleteChannel: 'channels.delete',
  editChannel: 'channels.update',
  createSession: 'sessions.create',
  startSession: 'sessions.start',
  pauseSession: 'sessions.pause',
  resumeSession: 'sessions.resume',
  completeSession: 'sessions.complete',
  failSession: 'sessions.fail',
  sessionProgress: 'sessions.progress',
  deleteSession: 'sessions.delete',
};

/** The workload: each operation its count of times per round, in an order the seed decides. */
function workload(random: Faker, rounds: number): Operation[] {
  const operations = (Object.entries(operationCounts) as [Operation, number][]).flatMap(
    ([operation, count]) => Array.from({ length: count * rounds }, () => operation),
  );
  return random.helpers.shuffle(operations);
}

/** How often an operation that needs a job to hold claims again before it reports that it found none. */
const claimAttempts = 10;

export async function runManyWriters(options: ManyWritersOptions): Promise<Report> {
  const random = new Faker({ locale: [base] });
  random.seed(options.seed);
  const channelCount = options.channels ?? 2;
  const perChannel = options.videosPerChannel ?? 40;
  const channelInputs = channelFactory.buildList(channelCount);
  const videoInputs = channelInputs.map(() => discoveredVideos(perChannel));
  const report: Report = {};
  const known = {
    channels: new Map<number, string>(),
    videos: new Set<string>(),
  };
  const held = new Map<string, ClaimedJob>();
  let workers = 0;

  const pick = <T>(items: readonly T[]): T => random.helpers.arrayElement(items);
  const some = <T>(items: readonly T[]): T[] =>
    random.helpers.arrayElements(items, { min: Math.min(1, items.length), max: items.length });

  const call = async <T>(procedure: string, work: () => Promise<T>): Promise<T | undefined> => {
    const tally = (report[procedure] ??= { calls: 0, ok: 0, rejected: {}, serverErrors: 0 });
    tally.calls += 1;
    try {
      const result = await work();
      tally.ok += 1;
      return result;
    } catch (error) {
      const status =
        error instanceof TRPCClientError ? (error.data?.httpStatus as number | undefined) : undefined;
      const code = error instanceof TRPCClientError ? (error.data?.code as string | undefined) : undefined;
      if (status === undefined || status >= 500) {
        tally.serverErrors += 1;
        tally.rejected[code ?? String(error)] = (tally.rejected[code ?? String(error)] ?? 0) + 1;
      } else tally.rejected[code ?? String(status)] = (tally.rejected[code ?? String(status)] ?? 0) + 1;
      return undefined;
    }
  };

  /**
   * The channel's id, creating it (again, after a delete) when no client knows it; another client may create it
   * first, or delete it between the two calls, so it tries again.
   */
  const channelOf = async (api: Client, index: number): Promise<string> => {
    const input = channelInputs[index]!;
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const knownId = known.channels.get(index);
      if (knownId) return knownId;
      const created = await call('channels.create', () => api.channels.create.mutate(input));
      const id =
        created?.id ??
        (
          await call('channels.getByYoutubeId', () =>
            api.channels.getByYoutubeId.query({ youtubeChannelId: input.youtubeChannelId }),
          )
        )?.id;
      if (id) known.channels.set(index, id);
    }
    throw new Error(`channel ${input.youtubeChannelId} could be neither created nor read in 5 attempts`);
  };

  /** A discovery pass: some of the channel's videos, in any order, full or light. */
  const discover = async (api: Client, index: number, channelId: string) => {
    const light = random.datatype.boolean();
    const videos = some(videoInputs[index]!).map((video) =>
      light ? { youtubeVideoId: video.youtubeVideoId, title: video.title, videoUrl: video.videoUrl } : video,
    );
    await call('videos.upsertMany', () => api.videos.upsertMany.mutate({ channelId, videos }));
  };

  /** The channel's videos as a scheduler lists them, discovered first when it has none. */
  const videosOf = async (api: Client, index: number, channelId: string): Promise<string[]> => {
    const list = () => call('channels.videos', () => api.channels.videos.query({ channelId, limit: 100 }));
    let page = await list();
    if (!page?.items.length) {
      await discover(api, index, channelId);
      page = await list();
    }
    const ids = (page?.items ?? []).map((video) => video.id);
    for (const id of ids) known.videos.add(id);
    return ids;
  };

  /** A video some client knows, or one of the channel's; none when the channel has gone meanwhile. */
  const aVideo = async (api: Client, index: number, channelId: string): Promise<string | undefined> => {
    const ids = known.videos.size ? [...known.videos] : await videosOf(api, index, channelId);
    return ids.length ? pick(ids) : undefined;
  };

  const createSession = async (api: Client) =>
    (
      await call('sessions.create', () =>
        api.sessions.create.mutate({ sessionName: 'race', sessionType: 'bulk_processing' }),
      )
    )?.id;
  /** One of the newest sessions, created when there is none. */
  const sessionId = async (api: Client): Promise<string | undefined> => {
    const page = await call('sessions.list', () => api.sessions.list.query({ limit: 20 }));
    return page?.items.length ? pick(page.items).id : createSession(api);
  };
  /** A session in `status`, listed, or brought there when there is none: created, started, paused. */
  const sessionIn = async (api: Client, status: SessionStatus): Promise<string | undefined> => {
    const page = await call('sessions.list', () => api.sessions.list.query({ status, limit: 20 }));
    if (page?.items.length) return pick(page.items).id;
    if (status === 'pending') return createSession(api);
    const [before, move] =
      status === 'running' ? (['pending', 'start'] as const) : (['running', 'pause'] as const);
    const id = await sessionIn(api, before);
    return id && (await call(`sessions.${move}`, () => api.sessions[move].mutate({ id })))?.id;
  };

  const jobOf = (videoId: string, session: string | undefined) => ({
    jobType: 'transcript_extraction' as const,
    entityType: 'video' as const,
    entityId: videoId,
    ...(session ? { sessionId: session } : {}),
  });

  const claim = async (api: Client, limit: number) =>
    (await call('jobs.claim', () =>
      api.jobs.claim.mutate({ workerId: `w${(workers += 1)}`, limit, leaseSeconds: 2 }),
    )) ?? [];

  /**
   * Up to five jobs to finish: held ones (claimed by a `claim` operation), or claimed now. When nothing was due, a
   * new channel's discovery is queued before claiming one job again (the other channels' jobs may all be
   * running); another client may take it first. None when every claim failed: the report shows why.
   */
  const holding = async (api: Client): Promise<ClaimedJob[]> => {
    for (let attempt = 0; attempt < claimAttempts; attempt += 1) {
      if (held.size > 0) {
        const mine = random.helpers.shuffle([...held.values()]).slice(0, 5);
        for (const job of mine) held.delete(job.id);
        return mine;
      }
      if (attempt > 0) {
        const fresh = await call('channels.create', () => api.channels.create.mutate(channelFactory.build()));
        if (fresh)
          await call('jobs.enqueue', () =>
            api.jobs.enqueue.mutate({
              jobType: 'channel_discovery',
              entityType: 'channel',
              entityId: fresh.id,
            }),
          );
      }
      const claimed = await claim(api, attempt === 0 ? 5 : 1);
      if (claimed.length > 0) return claimed;
    }
    return [];
  };

  const lease = (job: ClaimedJob) => ({ id: job.id, leaseToken: job.leaseToken });

  /** A job of the database, listed; queued first when there is none. */
  const listedJob = async (api: Client, channelId: string, status?: 'running' | 'failed') => {
    const list = () =>
      call('jobs.list', () => api.jobs.list.query({ limit: 20, ...(status ? { status } : {}) }));
    let page = await list();
    if (!page?.items.length && !status) {
      await call('jobs.enqueue', () =>
        api.jobs.enqueue.mutate({ jobType: 'channel_discovery', entityType: 'channel', entityId: channelId }),
      );
      page = await list();
    }
    return page?.items.length ? pick(page.items) : undefined;
  };

  const perform = async (api: Client, operation: Operation) => {
    const index = random.number.int({ max: channelCount - 1 });
    const channelId = await channelOf(api, index);
    switch (operation) {
      case 'discover':
        return discover(api, index, channelId);
      case 'queueTranscripts': {
        const videoIds = some(await videosOf(api, index, channelId)).slice(0, 30);
        if (videoIds.length === 0) return;
        const session = random.datatype.boolean(0.7) ? await sessionId(api) : undefined;
        await call('jobs.enqueueMany', () =>
          api.jobs.enqueueMany.mutate({ jobs: videoIds.map((id) => jobOf(id, session)) }),
        );
        return;
      }
      case 'queueDiscovery':
        await call('jobs.enqueue', () =>
          api.jobs.enqueue.mutate({
            jobType: 'channel_discovery',
            entityType: 'channel',
            entityId: channelId,
          }),
        );
        return;
      case 'claim':
        for (const job of await claim(api, 5)) held.set(job.id, job);
        return;
      case 'completeMany': {
        const mine = await holding(api);
        if (mine.length > 0)
          await call('jobs.completeMany', () =>
            api.jobs.completeMany.mutate({
              jobs: mine.map((job) => ({ ...lease(job), result: { ok: true } })),
            }),
          );
        return;
      }
      case 'complete':
        for (const job of await holding(api))
          await call('jobs.complete', () => api.jobs.complete.mutate({ ...lease(job), result: {} }));
        return;
      case 'fail':
        for (const job of await holding(api))
          await call('jobs.fail', () => api.jobs.fail.mutate({ ...lease(job), error: 'timeout' }));
        return;
      case 'heartbeat':
        for (const job of await holding(api))
          await call('jobs.heartbeat', () => api.jobs.heartbeat.mutate(lease(job)));
        return;
      case 'release':
        for (const job of await holding(api))
          await call('jobs.release', () => api.jobs.release.mutate(lease(job)));
        return;
      case 'cancel':
        for (const job of await holding(api))
          await call('jobs.cancel', () => api.jobs.cancel.mutate({ id: job.id }));
        return;
      case 'abandon':
        // The worker "dies": its leases expire and another worker takes the jobs over.
        await holding(api);
        return;
      case 'requeue': {
        const job = (await listedJob(api, channelId, 'running')) ?? (await holding(api))[0];
        if (job)
          await call('jobs.requeue', () =>
            api.jobs.requeue.mutate({ id: job.id, requeuedBy: 'admin', reason: 'stuck worker' }),
          );
        return;
      }
      case 'retry': {
        let job: { id: string } | undefined = await listedJob(api, channelId, 'failed');
        if (!job) {
          const [failing] = await holding(api);
          if (failing)
            await call('jobs.fail', () =>
              api.jobs.fail.mutate({ ...lease(failing), error: 'gone for good', retryable: false }),
            );
          job = failing;
        }
        if (job) await call('jobs.retry', () => api.jobs.retry.mutate({ id: job.id }));
        return;
      }
      case 'moveJob': {
        const job = await listedJob(api, channelId);
        const session = random.datatype.boolean() ? ((await sessionId(api)) ?? null) : null;
        if (job)
          await call('jobs.update', () =>
            api.jobs.update.mutate({ id: job.id, sessionId: session, priority: 1 }),
          );
        return;
      }
      case 'editVideo': {
        const id = await aVideo(api, index, channelId);
        if (id)
          await call('videos.update', () =>
            api.videos.update.mutate({ id, title: `Edited ${random.number.int()}` }),
          );
        return;
      }
      case 'deleteVideo': {
        const id = await aVideo(api, index, channelId);
        if (!id) return;
        known.videos.delete(id);
        await call('videos.delete', () => api.videos.delete.mutate({ id }));
        return;
      }
      case 'deleteChannel':
        known.channels.delete(index);
        await call('channels.delete', () => api.channels.delete.mutate({ id: channelId }));
        return;
      case 'editChannel':
        await call('channels.update', () =>
          api.channels.update.mutate({ id: channelId, description: 'edited' }),
        );
        return;
      case 'createSession':
        return createSession(api);
      case 'sessionProgress': {
        const id = await sessionId(api);
        if (id) await call('sessions.progress', () => api.sessions.progress.query({ id }));
        return;
      }
      case 'deleteSession': {
        const id = await sessionId(api);
        if (id) await call('sessions.delete', () => api.sessions.delete.mutate({ id }));
        return;
      }
      default: {
        // An admin steering a session, from a status the move leaves, while its jobs complete.
        const [move, from] = sessionMoves[operation];
        // Another client may move it on first: then any session, which the move may well reject.
        const id = (await sessionIn(api, pick(from))) ?? (await sessionId(api));
        if (id) await call(`sessions.${move}`, () => api.sessions[move].mutate({ id }));
      }
    }
  };

  const plan = workload(random, options.rounds);
  // Every client stops before the run ends, even when one of them failed: none writes on into the next test.
  const clients = await Promise.allSettled(
    Array.from({ length: options.clients }, async (_, client) => {
      const api = createClient({ url: options.urls[client % options.urls.length]!, token: options.token });
      for (let next = client; next < plan.length; next += options.clients) await perform(api, plan[next]!);
    }),
  );
  const failed = clients.find((outcome) => outcome.status === 'rejected');
  if (failed) throw failed.reason;
  return report;
}

/** Each session move, and the statuses it leaves from. */
const sessionMoves = {
  startSession: ['start', ['pending']],
  pauseSession: ['pause', ['running']],
  resumeSession: ['resume', ['paused']],
  completeSession: ['complete', ['running', 'paused']],
  failSession: ['fail', ['pending', 'running', 'paused']],
} as const satisfies Record<string, readonly [string, readonly SessionStatus[]]>;

/**
 * The rules the data must obey whatever interleaving produced it, each a query counting its violations. They
 * hold at rest: after the writers stop, whatever leases are still out.
 */
export const invariants: Record<string, string> = {
  'session counts equal the session’s jobs per status': `
    SELECT count(*) FROM (
      SELECT session_id, status, sum(jobs) AS n FROM processing_session_job_counts GROUP BY 1, 2
    ) kept FULL JOIN (
      SELECT session_id, status, count(*) AS n FROM processing_jobs WHERE session_id IS NOT NULL GROUP BY 1, 2
    ) actual USING (session_id, status)
    WHERE coalesce(kept.n, 0) <> coalesce(actual.n, 0)`,
  'processedVideos equals the session’s completed jobs': `
    SELECT count(*) FROM processing_sessions s
    WHERE s.processed_videos <> (SELECT count(*) FROM processing_jobs j WHERE j.session_id = s.id AND j.status = 'completed')`,
  'no counter is negative': `
    SELECT count(*) FROM (SELECT sum(jobs) AS n FROM processing_session_job_counts GROUP BY session_id, status) c
    WHERE n < 0`,
  'a running job has a lease, and only a running job has one': `
    SELECT count(*) FROM processing_jobs
    WHERE (status = 'running') <> (lease_token IS NOT NULL AND lease_expires_at IS NOT NULL)`,
  'no job is about a row that is gone': `
    SELECT count(*) FROM processing_jobs j
    WHERE (j.entity_type = 'video' AND NOT EXISTS (SELECT 1 FROM videos v WHERE v.id = j.entity_id))
       OR (j.entity_type = 'channel' AND NOT EXISTS (SELECT 1 FROM channels c WHERE c.id = j.entity_id))`,
  'a processing video has a running job, a queued video a queued one': `
    SELECT count(*) FROM videos v
    WHERE (v.status = 'processing' AND NOT EXISTS (SELECT 1 FROM processing_jobs j
             WHERE j.entity_id = v.id AND j.job_type = 'transcript_extraction' AND j.status = 'running'))
       OR (v.status = 'queued' AND NOT EXISTS (SELECT 1 FROM processing_jobs j
             WHERE j.entity_id = v.id AND j.job_type = 'transcript_extraction' AND j.status = 'queued'))`,
  'an active job’s video is where the job says, unless already completed': `
    SELECT count(*) FROM processing_jobs j JOIN videos v ON v.id = j.entity_id
    WHERE j.job_type = 'transcript_extraction'
      AND ((j.status = 'running' AND v.status NOT IN ('processing', 'completed'))
        OR (j.status = 'queued' AND v.status NOT IN ('queued', 'completed')))`,
};

/** Each invariant's number of violating rows; all must be 0. */
export async function invariantViolations(db: Knex): Promise<Record<string, number>> {
  const found: Record<string, number> = {};
  for (const [rule, sql] of Object.entries(invariants)) {
    const { rows } = await db.raw<{ rows: { count: string | number }[] }>(sql);
    found[rule] = Number(rows[0]!.count);
  }
  return found;
}

/** The report as lines a person reads: calls, ok, rejections by code and 5xx per procedure. */
export function formatReport(report: Report): string {
  return Object.entries(report)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([procedure, t]) => {
      const rejected = Object.entries(t.rejected)
        .map(([code, n]) => `${code} ${n}`)
        .join(', ');
      return `${procedure.padEnd(24)} calls ${String(t.calls).padStart(5)}  ok ${String(t.ok).padStart(5)}  5xx ${t.serverErrors}${rejected ? `  rejected: ${rejected}` : ''}`;
    })
    .join('\n');
}
