import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Knex } from 'knex';
import { snakeCaseMappers } from 'objection';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { z } from 'zod';
import { channelWrite } from '../schemas/channel';
import { processingJobWrite } from '../schemas/processing-job';
import { processingSessionWrite } from '../schemas/processing-session';
import { countWords, transcriptWrite } from '../schemas/transcript';
import type { VideoStatus } from '../schemas/video';
import { videoWrite } from '../schemas/video';
import { channelFactory } from './channel';
import { copyLine } from './copy-format';
import { fake, uuidFrom } from './fake';
import { seedFactories } from './index';
import { processingJobFactory } from './processing-job';
import { processingSessionFactory } from './processing-session';
import type { SeedPlan } from './seed-plan';
import { transcriptFactory } from './transcript';
import { videoFactory } from './video';

/**
 * The bulk path behind `knex seed:run`: rows come from the same factories the tests use, and stream into
 * PostgreSQL with COPY as they are generated, so Node builds the next rows while the server stores the last.
 * All in one transaction: a failed seed leaves the previous data in place.
 */

/** Every demo database is "as of" this moment, so the same seed number gives the same rows. */
export const seedReferenceDate = new Date('2026-11-01T00:00:00.000Z');

const toColumn = (field: string) => Object.keys(snakeCaseMappers().format({ [field]: null }))[0]!;

function columnsOf(schema: z.ZodObject): { fields: string[]; sql: string } {
  const fields = ['id', ...Object.keys(schema.shape), 'createdAt', 'updatedAt'];
  return { fields, sql: fields.map(toColumn).join(', ') };
}

const tables = {
  channels: columnsOf(channelWrite),
  videos: columnsOf(videoWrite),
  transcripts: columnsOf(transcriptWrite),
  processing_sessions: columnsOf(processingSessionWrite),
  processing_jobs: columnsOf(processingJobWrite),
};
type Table = keyof typeof tables;

type Row = Record<string, unknown>;

/** Streams rows into one table with COPY, in chunks of lines so writes stay few and large. */
async function copyInto(client: pg.PoolClient, table: Table, rows: Iterable<Row>): Promise<number> {
  const { fields, sql } = tables[table];
  let count = 0;
  function* chunks() {
    let chunk = '';
    let lines = 0;
    for (const row of rows) {
      chunk += copyLine(fields.map((field) => row[field]));
      count += 1;
      if ((lines += 1) === 500) {
        yield chunk;
        chunk = '';
        lines = 0;
      }
    }
    if (chunk) yield chunk;
  }
  await pipeline(Readable.from(chunks()), client.query(copyFrom(`COPY ${table} (${sql}) FROM STDIN`)));
  return count;
}

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
const yearMs = 365 * 24 * 3_600_000;

/** Replaces the five tables' contents with a coherent demo data set of the planned size. */
export async function seedDemoData(
  knex: Knex,
  plan: SeedPlan,
  progress: Progress = () => undefined,
): Promise<SeedReport> {
  const started = performance.now();
  seedFactories(plan.seed);
  fake.setDefaultRefDate(seedReferenceDate);
  const stamp = (row: Row, at: Date): Row & { id: string } => ({
    ...row,
    id: row.id as string,
    createdAt: at,
    updatedAt: at,
  });
  const rows: Record<Table, number> = {
    channels: 0,
    videos: 0,
    transcripts: 0,
    processing_sessions: 0,
    processing_jobs: 0,
  };

  const client = (await knex.client.acquireConnection()) as pg.PoolClient;
  try {
    await client.query('BEGIN');
    await client.query(
      'TRUNCATE processing_session_job_counts, processing_jobs, processing_sessions, transcripts, videos, channels',
    );

    const channels = Array.from({ length: plan.channels }, (_, index) => {
      const roll = fake.number.float({ min: 0, max: 1 });
      const factory =
        roll < 0.1
          ? channelFactory.trait('paused')
          : roll < 0.15
            ? channelFactory.trait('inactive')
            : channelFactory.trait('checked');
      return stamp(
        { id: uuidFrom(fake), ...factory.build() },
        new Date(seedReferenceDate.getTime() - (plan.channels - index) * 60_000),
      );
    });
    rows.channels = await copyInto(client, 'channels', channels);

    const sessions = Array.from({ length: plan.sessions }, () =>
      // Stamped an hour early: the counters' UPDATE at the end moves updated_at to the reference date.
      stamp(
        { id: uuidFrom(fake), ...processingSessionFactory.trait('running').build() },
        new Date(seedReferenceDate.getTime() - 3_600_000),
      ),
    );
    rows.processing_sessions = await copyInto(client, 'processing_sessions', sessions);
    const sessionTotals = sessions.map(() => 0);

    const shares = statusShares(plan.transcriptShare);
    const perChannel = Math.floor(plan.videos / plan.channels);
    let extra = plan.videos % plan.channels;
    let jobIndex = 0;
    let batch = { videos: [] as Row[], transcripts: [] as Row[], jobs: [] as Row[] };

    // The server stores one batch while Node builds the next: a batch's COPYs run in the background, and the
    // next flush waits for them before it starts its own.
    let storing: Promise<void> = Promise.resolve();
    const flush = async () => {
      const full = batch;
      batch = { videos: [], transcripts: [], jobs: [] };
      await storing;
      storing = (async () => {
        rows.videos += await copyInto(client, 'videos', full.videos);
        rows.transcripts += await copyInto(client, 'transcripts', full.transcripts);
        rows.processing_jobs += await copyInto(client, 'processing_jobs', full.jobs);
        progress(rows.videos, plan.videos);
      })();
      // Nothing awaits it until the next flush: keep a failure for then, not for the process.
      storing.catch(() => undefined);
    };

    const addJob = (job: Row, at: Date) => {
      const session = jobIndex % sessions.length;
      jobIndex += 1;
      sessionTotals[session]! += 1;
      batch.jobs.push(stamp({ id: uuidFrom(fake), ...job, sessionId: sessions[session]!.id }, at));
    };

    for (const channel of channels) {
      const count = perChannel + (extra > 0 ? 1 : 0);
      extra -= 1;
      const channelId = channel.id as string;
      addJob(
        processingJobFactory.trait('discovery', 'completed').build({ entityId: channelId }),
        seedReferenceDate,
      );
      // Publish dates rise through a channel's five years of uploads.
      const spacing = (5 * yearMs) / Math.max(count, 1);
      for (let index = 0; index < count; index += 1) {
        const status = pickStatus(shares);
        const publishedAt = new Date(
          seedReferenceDate.getTime() -
            5 * yearMs +
            index * spacing +
            fake.number.float({ min: 0, max: spacing / 2 }),
        );
        const video = (status === 'discovered' ? videoFactory : videoFactory.trait(status)).build({
          channelId,
          publishedAt,
        });
        const id = uuidFrom(fake);
        batch.videos.push(stamp({ id, ...video }, video.discoveredAt!));
        if (status === 'completed') {
          const transcript = transcriptFactory.transient({ sentences: 12 }).build({ videoId: id });
          batch.transcripts.push(
            stamp(
              { id: uuidFrom(fake), ...transcript, wordCount: countWords(transcript.content) },
              video.processedAt!,
            ),
          );
        }
        const trait = status === 'discovered' ? null : jobTraitFor[status];
        if (trait !== null) {
          const factory = trait ? processingJobFactory.trait(trait) : processingJobFactory;
          addJob(factory.build({ entityId: id }), video.discoveredAt!);
        }
        if (batch.videos.length === plan.batchVideos) await flush();
        // Building rows never holds the event loop for long, so the batch being stored keeps flowing.
        else if (batch.videos.length % yieldEvery === 0) await new Promise(setImmediate);
      }
    }
    await flush();
    await storing;

    // processed_videos was counted by the database's triggers as the jobs were copied in.
    for (const [index, session] of sessions.entries()) {
      await client.query('UPDATE processing_sessions SET total_videos = $1, updated_at = $2 WHERE id = $3', [
        sessionTotals[index],
        seedReferenceDate,
        session.id,
      ]);
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    fake.setDefaultRefDate();
    await knex.client.releaseConnection(client);
  }
  // Fresh statistics for the planner, and a visibility map so counts can read indexes alone.
  await knex.raw('VACUUM ANALYZE');

  const seconds = (performance.now() - started) / 1_000;
  const total = Object.values(rows).reduce((sum, n) => sum + n, 0);
  return { rows, seconds, rowsPerSecond: total / seconds };
}
