import { TRPCClientError } from '@trpc/client';
import type { Knex } from 'knex';
import { createClient } from '../../src/client';
import { channelFactory, discoveredVideos } from '../../src/factories';
import type { ClaimedJob } from '../../src/schemas/processing-job';

/**
 * TubeSensei's real load, compressed: discovery workers refreshing the same channels in different orders,
 * transcript workers claiming and finishing jobs, and an admin editing, deleting and re-creating the same rows
 * and moving sessions, all at once over HTTP on a small set of overlapping keys. Every answer is tallied per
 * procedure; the data's invariants are checked afterwards by `invariantViolations`.
 */

export interface ManyWritersOptions {
  /** API base URLs; clients take turns over them (several API processes). */
  urls: string[];
  token?: string;
  clients: number;
  seconds: number;
  /** Distinct channels the clients fight over. */
  channels?: number;
  /** YouTube ids per channel. */
  videosPerChannel?: number;
}

export interface ProcedureTally {
  calls: number;
  ok: number;
  /** Answers by tRPC code, for everything that was not ok. */
  refused: Record<string, number>;
  /** 5xx answers: must stay 0. */
  serverErrors: number;
}

export type Report = Record<string, ProcedureTally>;

type Client = ReturnType<typeof createClient>;

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;
const shuffled = <T>(items: readonly T[]): T[] =>
  items
    .map((item) => ({ item, key: Math.random() }))
    .sort((a, b) => a.key - b.key)
    .map(({ item }) => item);
const some = <T>(items: readonly T[], min = 1): T[] =>
  shuffled(items).slice(0, Math.max(min, Math.ceil(Math.random() * items.length)));

export async function runManyWriters(options: ManyWritersOptions): Promise<Report> {
  const channelCount = options.channels ?? 2;
  const perChannel = options.videosPerChannel ?? 40;
  const channelInputs = channelFactory.buildList(channelCount);
  const videoInputs = channelInputs.map(() => discoveredVideos(perChannel));
  const report: Report = {};
  const known = {
    channels: new Map<number, string>(),
    videos: new Set<string>(),
    sessions: new Set<string>(),
  };
  const held = new Map<string, ClaimedJob>();

  const call = async <T>(procedure: string, work: () => Promise<T>): Promise<T | undefined> => {
    const tally = (report[procedure] ??= { calls: 0, ok: 0, refused: {}, serverErrors: 0 });
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
        tally.refused[code ?? String(error)] = (tally.refused[code ?? String(error)] ?? 0) + 1;
      } else tally.refused[code ?? String(status)] = (tally.refused[code ?? String(status)] ?? 0) + 1;
      return undefined;
    }
  };

  const ensureChannel = async (api: Client, index: number) => {
    const created = await call('channels.create', () => api.channels.create.mutate(channelInputs[index]!));
    const id =
      created?.id ??
      (
        await call('channels.getByYoutubeId', () =>
          api.channels.getByYoutubeId.query({ youtubeChannelId: channelInputs[index]!.youtubeChannelId }),
        )
      )?.id;
    if (id) known.channels.set(index, id);
    return id;
  };

  const jobOf = (videoId: string, sessionId: string | undefined) => ({
    jobType: 'transcript_extraction' as const,
    entityType: 'video' as const,
    entityId: videoId,
    ...(sessionId ? { sessionId } : {}),
  });

  /** One step of the mix; weights follow what each kind of user does most. */
  const step = async (api: Client) => {
    const index = Math.floor(Math.random() * channelCount);
    const channelId = known.channels.get(index) ?? (await ensureChannel(api, index));
    if (!channelId) return;
    const roll = Math.random();
    if (roll < 0.2) {
      // A discovery pass: some of the channel's videos, in any order, full or light.
      const light = Math.random() < 0.5;
      const videos = some(videoInputs[index]!).map((video) =>
        light
          ? { youtubeVideoId: video.youtubeVideoId, title: video.title, videoUrl: video.videoUrl }
          : video,
      );
      await call('videos.upsertMany', () => api.videos.upsertMany.mutate({ channelId, videos }));
    } else if (roll < 0.35) {
      // A scheduler lists the channel's videos and queues transcripts for some of them.
      const page = await call('channels.videos', () => api.channels.videos.query({ channelId, limit: 100 }));
      for (const video of page?.items ?? []) known.videos.add(video.id);
      const videoIds = some((page?.items ?? []).map((video) => video.id)).slice(0, 30);
      if (videoIds.length === 0) return;
      const sessionId = Math.random() < 0.7 ? pick([...known.sessions, undefined]) : undefined;
      await call('jobs.enqueueMany', () =>
        api.jobs.enqueueMany.mutate({ jobs: videoIds.map((id) => jobOf(id, sessionId)) }),
      );
    } else if (roll < 0.4) {
      await call('jobs.enqueue', () =>
        api.jobs.enqueue.mutate({ jobType: 'channel_discovery', entityType: 'channel', entityId: channelId }),
      );
    } else if (roll < 0.57) {
      const claimed = await call('jobs.claim', () =>
        api.jobs.claim.mutate({ workerId: `w${Math.random()}`, limit: 5, leaseSeconds: 2 }),
      );
      for (const job of claimed ?? []) held.set(job.id, job);
    } else if (roll < 0.77) {
      const mine = shuffled([...held.values()]).slice(0, 5);
      for (const job of mine) held.delete(job.id);
      if (mine.length === 0) return;
      const finish = Math.random();
      if (finish < 0.4) {
        await call('jobs.completeMany', () =>
          api.jobs.completeMany.mutate({
            jobs: mine.map((job) => ({ id: job.id, leaseToken: job.leaseToken, result: { ok: true } })),
          }),
        );
      } else {
        for (const job of mine) {
          const lease = { id: job.id, leaseToken: job.leaseToken };
          if (finish < 0.6)
            await call('jobs.complete', () => api.jobs.complete.mutate({ ...lease, result: {} }));
          else if (finish < 0.75)
            await call('jobs.fail', () => api.jobs.fail.mutate({ ...lease, error: 'timeout' }));
          else if (finish < 0.85) await call('jobs.heartbeat', () => api.jobs.heartbeat.mutate(lease));
          else if (finish < 0.92) await call('jobs.cancel', () => api.jobs.cancel.mutate({ id: job.id }));
          // Otherwise the worker "dies": its lease expires and another worker takes the job over.
        }
      }
    } else if (roll < 0.8) {
      const page = await call('jobs.list', () => api.jobs.list.query({ limit: 20 }));
      const job = page?.items.length ? pick(page.items) : undefined;
      if (job) {
        const sessionId = pick([...known.sessions, null]);
        await call('jobs.update', () => api.jobs.update.mutate({ id: job.id, sessionId, priority: 1 }));
      }
    } else if (roll < 0.84) {
      const id = pick([...known.videos]);
      if (!id) return;
      await call('videos.update', () => api.videos.update.mutate({ id, title: `Edited ${Math.random()}` }));
    } else if (roll < 0.86) {
      const id = pick([...known.videos]);
      if (!id) return;
      known.videos.delete(id);
      await call('videos.delete', () => api.videos.delete.mutate({ id }));
    } else if (roll < 0.87) {
      known.channels.delete(index);
      await call('channels.delete', () => api.channels.delete.mutate({ id: channelId }));
    } else if (roll < 0.89) {
      await call('channels.update', () =>
        api.channels.update.mutate({ id: channelId, description: 'edited' }),
      );
    } else {
      // An admin steers sessions while their jobs complete.
      if (known.sessions.size < 3 || Math.random() < 0.1) {
        const session = await call('sessions.create', () =>
          api.sessions.create.mutate({ sessionName: 'race', sessionType: 'bulk_processing' }),
        );
        if (session) known.sessions.add(session.id);
        return;
      }
      const id = pick([...known.sessions]);
      const move = pick(['start', 'pause', 'resume', 'complete', 'fail', 'progress', 'delete'] as const);
      if (move === 'progress') await call('sessions.progress', () => api.sessions.progress.query({ id }));
      else if (move === 'delete') {
        known.sessions.delete(id);
        await call('sessions.delete', () => api.sessions.delete.mutate({ id }));
      } else await call(`sessions.${move}`, () => api.sessions[move].mutate({ id }));
    }
  };

  const deadline = Date.now() + options.seconds * 1_000;
  await Promise.all(
    Array.from({ length: options.clients }, async (_, index) => {
      const api = createClient({ url: options.urls[index % options.urls.length]!, token: options.token });
      while (Date.now() < deadline) await step(api);
    }),
  );
  return report;
}

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

/** The report as lines a person reads: calls, ok, refusals by code and 5xx per procedure. */
export function formatReport(report: Report): string {
  return Object.entries(report)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([procedure, t]) => {
      const refused = Object.entries(t.refused)
        .map(([code, n]) => `${code} ${n}`)
        .join(', ');
      return `${procedure.padEnd(24)} calls ${String(t.calls).padStart(5)}  ok ${String(t.ok).padStart(5)}  5xx ${t.serverErrors}${refused ? `  refused: ${refused}` : ''}`;
    })
    .join('\n');
}
