import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Knex } from 'knex';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { z } from 'zod';
import { columnOf } from '../../src/models/columns';
import { channelWrite } from '../../src/schemas/channel';
import { processingJobWrite } from '../../src/schemas/processing-job';
import { processingSessionWrite } from '../../src/schemas/processing-session';
import { transcriptWrite } from '../../src/schemas/transcript';
import type { VideoStatus } from '../../src/schemas/video';
import { videoWrite } from '../../src/schemas/video';
import { channelFactory } from '../factories/channel';
import { copyLine } from './copy-format';
import { fake, uuidFrom } from '../factories/fake';
import { seedFlowControl } from './flow-control-seed';
import { seedFactories } from '../factories/index';
import { type ProcessingJobAttrs, processingJobFactory } from '../factories/processing-job';
import { processingSessionFactory } from '../factories/processing-session';
import type { SeedPlan } from './seed-plan';
import type { SpokenLanguage } from '../factories/speech';
import { transcriptFactory } from '../factories/transcript';
import { type VideoAttrs, videoFactory } from '../factories/video';
import { spokenLanguage, topic } from '../factories/youtube-data';

/**
 * The bulk path behind `knex seed:run`: rows come from the same factories the tests use, and stream into
 * PostgreSQL with COPY as they are generated, so Node builds the next rows while the server stores the last.
 * All in one transaction: a failed seed leaves the previous data in place. The rows obey `data-rules.ts`.
 */

function columnsOf(schema: z.ZodObject): { fields: string[]; sql: string } {
  const fields = ['id', ...Object.keys(schema.shape), 'createdAt', 'updatedAt'];
  return { fields, sql: fields.map(columnOf).join(', ') };
}

const tables = {
  channels: columnsOf(channelWrite),
  videos: columnsOf(videoWrite),
  transcripts: columnsOf(transcriptWrite),
  processing_sessions: columnsOf(processingSessionWrite),
  processing_jobs: columnsOf(processingJobWrite),
};
type Table = keyof typeof tables;

type Row = Record<string, unknown> & { id: string };

/** Where generated rows go: COPY into the database, or (a dry run) only counted. */
type Sink = (table: Table, rows: Row[]) => Promise<number>;

/** Streams rows into one table with COPY, in chunks of lines so writes stay few and large. */
const copySink =
  (client: pg.PoolClient): Sink =>
  async (table, rows) => {
    const { fields, sql } = tables[table];
    function* chunks() {
      for (let start = 0; start < rows.length; start += 500) {
        let chunk = '';
        for (const row of rows.slice(start, start + 500))
          chunk += copyLine(fields.map((field) => row[field]));
        yield chunk;
      }
    }
    await pipeline(Readable.from(chunks()), client.query(copyFrom(`COPY ${table} (${sql}) FROM STDIN`)));
    return rows.length;
  };

const countingSink: Sink = async (_table, rows) => rows.length;

const statusShares = (transcriptShare: number): [VideoStatus, number][] => [
  ['completed', transcriptShare],
  ['failed', 0.05],
  ['processing', 0.02],
  ['queued', 0.08],
  ['discovered', Math.max(0, 0.85 - transcriptShare)],
];

function pickStatus(shares: [VideoStatus, number][]): VideoStatus {
  const total = shares.reduce((sum, [, share]) => sum + share, 0);
  let roll = fake.number.float({ min: 0, max: total });
  for (const [status, share] of shares) if ((roll -= share) <= 0) return status;
  return 'discovered';
}

/** The job a video in each status has, as a factory trait (`queued` has none: the default is queued). */
const jobTraitFor = {
  queued: undefined,
  processing: 'running',
  completed: 'completed',
  failed: 'exhausted',
} as const;

export interface SeedReport {
  rows: Record<Table, number>;
  seconds: number;
  rowsPerSecond: number;
}

export type Progress = (videosDone: number, videosTotal: number) => void;

const yieldEvery = 100;
const minuteMs = 60_000;
const hourMs = 60 * minuteMs;
const dayMs = 24 * hourMs;
const yearMs = 365 * dayMs;

/** A standard normal draw (Box-Muller) from the seeded generator. */
function normal(): number {
  const u = fake.number.float({ min: Number.EPSILON, max: 1 });
  const v = fake.number.float({ min: 0, max: 1 });
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/**
 * Videos per channel with YouTube's heavy tail: log-normal weights (a few channels hold most videos, most hold
 * tens), rounded so they add up to `videos` exactly.
 */
export function videosPerChannel(videos: number, channels: number): number[] {
  const weights = Array.from({ length: channels }, () => Math.exp(1.6 * normal()));
  const total = weights.reduce((sum, weight) => sum + weight, 0);
  const exact = weights.map((weight) => (videos * weight) / total);
  const counts = exact.map(Math.floor);
  const byRemainder = exact
    .map((value, index) => [value - counts[index]!, index] as const)
    .sort((a, b) => b[0] - a[0]);
  const missing = videos - counts.reduce((sum, n) => sum + n, 0);
  for (let index = 0; index < missing; index += 1) counts[byRemainder[index]![1]]! += 1;
  return counts;
}

interface ChannelProfile {
  row: Row;
  topic: string;
  handle: string;
  spoken: SpokenLanguage;
  followedAt: Date;
  firstUpload: Date;
  videos: number;
  factories: Record<VideoStatus, typeof videoFactory>;
}

/** A number from the database's current size, so an additive seed draws other ids than the one before it. */
async function additiveSalt(knex: Knex): Promise<number> {
  const { rows } = await knex.raw<{ rows: { videos: number; channels: number }[] }>(
    'SELECT (SELECT count(*) FROM videos)::integer AS videos, (SELECT count(*) FROM channels)::integer AS channels',
  );
  return rows[0]!.videos * 7_919 + rows[0]!.channels;
}

/** What every phase builds with: factories pinned to the reference date, and the rows' ids and timestamps. */
interface Builders {
  ref: Date;
  asOf: {
    channel: typeof channelFactory;
    video: typeof videoFactory;
    transcript: typeof transcriptFactory;
    session: typeof processingSessionFactory;
    job: typeof processingJobFactory;
  };
  stamp: Stamp;
}

/** Every object is built as of the reference date, whatever the clock says, so a seed number gives one data set. */
function buildersAsOf(ref: Date): Builders {
  return {
    ref,
    asOf: {
      channel: channelFactory.at(ref),
      video: videoFactory.at(ref),
      transcript: transcriptFactory.at(ref),
      session: processingSessionFactory.at(ref),
      job: processingJobFactory.at(ref),
    },
    stamp: (row, at) => ({
      ...row,
      id: (row.id as string | undefined) ?? uuidFrom(fake),
      createdAt: at,
      updatedAt: at,
    }),
  };
}

/**
 * Runs `write` in one transaction on a connection of its own, so a failed seed leaves the database as it was; a dry
 * run gets no connection and writes nothing.
 */
async function inOneTransaction(
  knex: Knex,
  dryRun: boolean,
  write: (client: pg.PoolClient | undefined) => Promise<void>,
): Promise<void> {
  const client = dryRun ? undefined : ((await knex.client.acquireConnection()) as pg.PoolClient);
  try {
    await client?.query('BEGIN');
    await write(client);
    await client?.query('COMMIT');
  } catch (error) {
    await client?.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    if (client) await knex.client.releaseConnection(client);
  }
}

/** Fills the database with the plan's scenario; a dry run only counts the rows it would write. */
export async function seedDatabase(
  knex: Knex,
  plan: SeedPlan,
  progress: Progress = () => undefined,
): Promise<SeedReport> {
  const started = performance.now();
  const salt = plan.mode === 'add' ? await additiveSalt(knex) : 0;
  seedFactories(plan.seed + salt);
  const builders = buildersAsOf(plan.referenceDate);
  const rows: Record<Table, number> = {
    channels: 0,
    videos: 0,
    transcripts: 0,
    processing_sessions: 0,
    processing_jobs: 0,
  };

  await inOneTransaction(knex, plan.dryRun, async (client) => {
    const sink = client ? copySink(client) : countingSink;
    if (plan.mode === 'replace') {
      await client?.query(
        'TRUNCATE processing_session_job_counts, processing_jobs, processing_sessions, transcripts, videos, channels',
      );
    }
    const channels = followChannels(plan, builders);
    rows.channels += await sink(
      'channels',
      channels.map((channel) => channel.row),
    );
    const sessions = openSessions(plan, builders);
    rows.processing_sessions += await sink('processing_sessions', [...sessions.running, ...sessions.others]);

    const writer = new SeedWriter(builders, sessions.running, async (batch) => {
      rows.videos += await sink('videos', batch.videos);
      rows.transcripts += await sink('transcripts', batch.transcripts);
      rows.processing_jobs += await sink('processing_jobs', batch.jobs);
      progress(rows.videos, plan.videos);
    });
    const shares = statusShares(plan.transcriptShare);
    for (const channel of channels) await addChannelHistory(channel, writer, shares, plan.batchVideos);
    if (plan.scenario === 'queue' && channels.length > 0) {
      const added = addQueueStates(
        channels[0]!,
        sessions.running[0]!.id,
        sessions.others,
        (...args) => writer.addVideo(...args),
        builders.ref,
      );
      await client?.query('UPDATE channels SET video_count = video_count + $1 WHERE id = $2', [
        added,
        channels[0]!.row.id,
      ]);
    }
    await writer.finish();

    if (client) {
      await countSessionVideos(
        client,
        [...sessions.running, ...sessions.others],
        writer.sessionJobs,
        builders.ref,
      );
      await seedFlowControl(client, plan.scenario, plan.mode, builders.ref);
    }
  });
  // Fresh statistics for the planner, and a visibility map so counts can read indexes alone.
  if (!plan.dryRun) await knex.raw('VACUUM ANALYZE');

  const seconds = (performance.now() - started) / 1_000;
  const total = Object.values(rows).reduce((sum, n) => sum + n, 0);
  return { rows, seconds, rowsPerSecond: total / seconds };
}

/** The followed channels, each with its topic, language, upload years and videos' factories; built, not stored. */
function followChannels(plan: SeedPlan, { ref, asOf, stamp }: Builders): ChannelProfile[] {
  return videosPerChannel(plan.videos, plan.channels).map((videos) => {
    const about = topic(fake);
    const roll = fake.number.float({ min: 0, max: 1 });
    const trait = roll < 0.1 ? 'paused' : roll < 0.15 ? 'inactive' : 'checked';
    const spoken = spokenLanguage(fake);
    const followedAt = new Date(ref.getTime() - fake.number.int({ min: 30, max: 900 }) * dayMs);
    const built = asOf.channel
      .transient({ topic: about })
      .trait(trait)
      .build({
        videoCount: videos + fake.number.int({ min: 0, max: Math.ceil(videos / 4) }),
        processingConfig: {
          discoverEveryHours: fake.helpers.arrayElement([6, 12, 24, 24, 48, 168]),
          transcriptLanguages: [spoken],
        },
      });
    const handle = String(built.metadata?.customUrl ?? '@channel').slice(1);
    const shortsShare = fake.number.float({ min: 0, max: 0.6 });
    const reach = 1.5 * normal();
    const channelVideos = asOf.video.transient({ topic: about, handle, shortsShare, reach });
    return {
      row: stamp(built, followedAt),
      topic: about,
      handle,
      spoken,
      followedAt,
      // Uploading for one to six years before the reference date.
      firstUpload: new Date(ref.getTime() - fake.number.float({ min: 1, max: 6 }) * yearMs),
      videos,
      factories: {
        discovered: channelVideos,
        queued: channelVideos.trait('queued'),
        processing: channelVideos.trait('processing'),
        completed: channelVideos.trait('completed'),
        failed: channelVideos.trait('failed'),
      },
    };
  });
}

/** The running sessions the jobs are dealt into, and (in the queue scenario) a paused and a failed one. */
function openSessions(plan: SeedPlan, { ref, asOf, stamp }: Builders): { running: Row[]; others: Row[] } {
  const running = Array.from({ length: plan.sessions }, () =>
    // Stamped an hour early: the counters' UPDATE at the end moves updated_at to the reference date.
    stamp(asOf.session.trait('running').build(), new Date(ref.getTime() - hourMs)),
  );
  const others = plan.scenario === 'queue' ? queueSessions(stamp, asOf.session, ref) : [];
  return { running, others };
}

type Batch = { videos: Row[]; transcripts: Row[]; jobs: Row[] };

/**
 * Builds the rows of videos, their transcripts and their jobs into batches. The server stores one batch while Node
 * builds the next: a batch is handed to `store` in the background, and the next flush waits for it first.
 */
class SeedWriter {
  /** How many jobs each session holds, for its total_videos. */
  readonly sessionJobs = new Map<string, number>();
  private batch: Batch = { videos: [], transcripts: [], jobs: [] };
  private storing: Promise<void> = Promise.resolve();
  private jobIndex = 0;

  constructor(
    readonly builders: Builders,
    private readonly sessions: Row[],
    private readonly store: (batch: Batch) => Promise<void>,
  ) {}

  get videosInBatch(): number {
    return this.batch.videos.length;
  }

  /** A job's row, created when it was first due (or started), in the next session of the round. */
  addJob(job: ProcessingJobAttrs, sessionId?: string): void {
    const session = sessionId ?? this.sessions[this.jobIndex++ % this.sessions.length]!.id;
    this.sessionJobs.set(session, (this.sessionJobs.get(session) ?? 0) + 1);
    const times = [job.runAfter, job.startedAt, job.completedAt].filter(
      (at): at is Date => at instanceof Date,
    );
    const createdAt = new Date(Math.min(...times.map((at) => at.getTime())));
    this.batch.jobs.push(this.builders.stamp({ ...job, sessionId: session }, createdAt));
  }

  /** A video, its transcript when completed, and its transcript job unless only discovered. */
  addVideo(
    channel: ChannelProfile,
    status: VideoStatus,
    overrides: Partial<VideoAttrs>,
    job: JobSpec = {},
    sentences?: number,
  ): void {
    const { ref, asOf, stamp } = this.builders;
    const video = channel.factories[status].build({ channelId: channel.row.id, ...overrides });
    const row = stamp(video, video.discoveredAt!);
    this.batch.videos.push(row);
    let result: ProcessingJobAttrs['result'] = null;
    if (status === 'completed') {
      const duration = video.durationSeconds ?? 600;
      const transcript = asOf.transcript
        .transient({
          spoken: channel.spoken,
          durationSeconds: duration,
          sentences: sentences ?? Math.min(16, Math.max(3, Math.round(duration / 60))),
        })
        .build({ videoId: row.id });
      this.batch.transcripts.push(stamp(transcript, video.processedAt!));
      result = { wordCount: transcript.wordCount!, language: transcript.language! };
    }
    const trait = job.trait ?? (status === 'discovered' ? null : jobTraitFor[status]);
    if (trait === null) return;
    const finished = status === 'completed' || status === 'failed';
    // A finished job ran soon after its video was found; a waiting or running one was queued minutes ago.
    const recently = new Date(ref.getTime() - fake.number.int({ min: 30_000, max: 10 * minuteMs }));
    const due = finished
      ? new Date(
          Math.min(
            video.discoveredAt!.getTime() + fake.number.int(10 * minuteMs),
            (video.processedAt ?? ref).getTime(),
          ),
        )
      : new Date(Math.max(recently.getTime(), video.discoveredAt!.getTime()));
    const factory = trait ? asOf.job.trait(trait) : asOf.job;
    this.addJob(
      factory.build({
        entityId: row.id,
        // The key the database would give it, written here so the COPY need not look the channel up.
        rateKey: `channel:${channel.row.id}`,
        runAfter: due,
        ...(status === 'completed' ? { completedAt: video.processedAt!, result } : {}),
        ...job.overrides,
      }),
      job.sessionId,
    );
  }

  /** Hands the batch built so far to `store`, once the batch before it is stored. */
  async flush(): Promise<void> {
    const full = this.batch;
    this.batch = { videos: [], transcripts: [], jobs: [] };
    await this.storing;
    this.storing = this.store(full);
    // Nothing awaits it until the next flush: keep a failure for then, not for the process.
    this.storing.catch(() => undefined);
  }

  /** Stores what is left, and waits until every batch is stored. */
  async finish(): Promise<void> {
    await this.flush();
    await this.storing;
  }
}

/** A channel's discovery job, then its uploads over the years, each with its status's transcript and job. */
async function addChannelHistory(
  channel: ChannelProfile,
  writer: SeedWriter,
  shares: [VideoStatus, number][],
  batchVideos: number,
): Promise<void> {
  const { ref, asOf } = writer.builders;
  const lastChecked =
    (channel.row.lastCheckedAt as Date | null) ?? new Date(channel.followedAt.getTime() + hourMs);
  writer.addJob(
    asOf.job.trait('discovery', 'completed').build({
      entityId: channel.row.id,
      rateKey: `channel:${channel.row.id}`,
      runAfter: new Date(lastChecked.getTime() - 2 * minuteMs),
      completedAt: lastChecked,
      result: {
        videosFound: channel.videos,
        newVideos: fake.number.int({ min: 0, max: Math.min(3, channel.videos) }),
      },
    }),
  );
  // Uploads spread over the channel's years, a little irregularly.
  const spacing = (ref.getTime() - channel.firstUpload.getTime()) / Math.max(channel.videos, 1);
  for (let index = 0; index < channel.videos; index += 1) {
    const publishedAt = new Date(
      channel.firstUpload.getTime() + index * spacing + fake.number.float({ min: 0, max: spacing / 2 }),
    );
    // Found on the first check after it was out and the channel was followed.
    const found = Math.max(publishedAt.getTime(), channel.followedAt.getTime());
    const discoveredAt = new Date(Math.min(ref.getTime(), found + fake.number.int(2 * dayMs)));
    writer.addVideo(channel, pickStatus(shares), { publishedAt, discoveredAt });
    if (writer.videosInBatch === batchVideos) await writer.flush();
    // Building rows never holds the event loop for long, so the batch being stored keeps flowing.
    else if (writer.videosInBatch % yieldEvery === 0) await new Promise(setImmediate);
  }
}

/** Each session's total_videos; processed_videos was counted by the database's triggers as the jobs were copied in. */
async function countSessionVideos(
  client: pg.PoolClient,
  sessions: Row[],
  sessionJobs: ReadonlyMap<string, number>,
  ref: Date,
): Promise<void> {
  for (const session of sessions) {
    await client.query('UPDATE processing_sessions SET total_videos = $1, updated_at = $2 WHERE id = $3', [
      sessionJobs.get(session.id) ?? 0,
      ref,
      session.id,
    ]);
  }
}

type Stamp = (row: Record<string, unknown>, at: Date) => Row;

/** The transcript job of a seeded video: its trait when not the one its video's status implies, and more. */
interface JobSpec {
  trait?: 'cancelled';
  sessionId?: string;
  overrides?: Partial<ProcessingJobAttrs>;
}

/** The queue scenario's paused and failed sessions, beside the running ones. */
function queueSessions(stamp: Stamp, sessions: typeof processingSessionFactory, ref: Date): Row[] {
  const at = new Date(ref.getTime() - 2 * hourMs);
  return [
    stamp(sessions.trait('paused').build({ sessionName: 'Paused backfill', startedAt: at }), at),
    stamp(
      sessions.trait('failed').build({
        sessionName: 'Failed nightly run',
        startedAt: at,
        completedAt: new Date(ref.getTime() - hourMs),
      }),
      at,
    ),
  ];
}

/** Titles a UI must render: emoji, accents, other scripts, combining marks, right to left. */
const unicodeTitles = [
  '🎬 Sourdough at 3 a.m. — ça marche ? (part 2/3) 🍞',
  '東京の古いフィルムカメラで一日撮影してみた 📷',
  'كيف تبدأ في التصوير الفوتوغرافي؟',
  'Z̵̈a̷͠l̴̛g̶o̷ glitch intro ✨ — “smart quotes” & <tags>',
  'Ünïcödé Ŧest: Ελληνικά, Русский, हिन्दी',
];

/**
 * One job in every state a worker or an admin UI must handle, as of `ref`: due and waiting, scheduled for
 * later, running with a live and with an expired lease (attempts left, and none), waiting for a retry,
 * failed for good, cancelled; a paused session's held jobs and a failed session's; a three-hour stream's long
 * transcript; titles in many scripts.
 */
function addQueueStates(
  channel: ChannelProfile,
  runningSession: string,
  [paused, failed]: Row[],
  addVideo: (
    channel: ChannelProfile,
    status: VideoStatus,
    overrides: Partial<VideoAttrs>,
    job?: JobSpec,
    sentences?: number,
  ) => void,
  ref: Date,
): number {
  let added = 0;
  const add: typeof addVideo = (...args) => {
    added += 1;
    addVideo(...args);
  };
  const discoveredAt = new Date(ref.getTime() - 3 * hourMs);
  const video = { publishedAt: new Date(ref.getTime() - dayMs), discoveredAt };
  const at = (offsetMs: number) => new Date(ref.getTime() + offsetMs);
  const inRunning = (overrides: Partial<ProcessingJobAttrs>) => ({ sessionId: runningSession, overrides });

  add(channel, 'queued', video, inRunning({ runAfter: at(-minuteMs), priority: 10 }));
  add(channel, 'queued', video, inRunning({ runAfter: at(-minuteMs), priority: 0 }));
  add(
    channel,
    'queued',
    video,
    inRunning({ runAfter: at(6 * hourMs), metadata: { note: 'scheduled for later' } }),
  );
  add(channel, 'processing', video, inRunning({ runAfter: at(-2 * minuteMs) }));
  // Leases last 15 minutes from the start: these started 30 minutes ago.
  add(channel, 'processing', video, inRunning({ runAfter: at(-30 * minuteMs), attempts: 1 }));
  add(channel, 'processing', video, inRunning({ runAfter: at(-30 * minuteMs), attempts: 3, maxAttempts: 3 }));
  addVideo(
    channel,
    'queued',
    video,
    inRunning({
      runAfter: at(2 * minuteMs),
      attempts: 1,
      errorMessage: 'Request timed out after 30000 ms',
      startedAt: at(-minuteMs),
    }),
  );
  add(channel, 'failed', video, inRunning({ runAfter: at(-hourMs) }));
  add(channel, 'discovered', video, { trait: 'cancelled', ...inRunning({ runAfter: at(-20 * minuteMs) }) });
  add(channel, 'discovered', video);

  for (let index = 0; index < 3; index += 1) {
    add(channel, 'queued', video, { sessionId: paused!.id, overrides: { runAfter: at(-hourMs) } });
  }
  add(channel, 'processing', video, { sessionId: paused!.id, overrides: { runAfter: at(-2 * minuteMs) } });
  add(channel, 'failed', video, { sessionId: failed!.id, overrides: { runAfter: at(-90 * minuteMs) } });
  for (let index = 0; index < 2; index += 1) {
    add(channel, 'discovered', video, {
      trait: 'cancelled',
      sessionId: failed!.id,
      overrides: { runAfter: at(-90 * minuteMs) },
    });
  }

  add(
    channel,
    'completed',
    { ...video, durationSeconds: 10_800, title: 'Full 3-hour workshop stream (VOD)' },
    {},
    2_500,
  );
  for (const title of unicodeTitles) add(channel, 'discovered', { ...video, title });
  return added;
}
