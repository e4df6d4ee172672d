import { z } from 'zod';
import { parseEnvironment } from '../../src/config';
import { defaultSeed } from '../factories/fake';

/**
 * The data sets `knex seed:run` makes. `demo`: a coherent, browsable database (1,000 videos); `queue`: every
 * state a worker or an admin UI must handle, as of now, on a small demo base; `load`: the bench's large set.
 */
const seedScenarios = ['demo', 'queue', 'load'] as const;
export type SeedScenario = (typeof seedScenarios)[number];

const defaultVideos: Record<SeedScenario, number> = { demo: 1_000, queue: 200, load: 1_000_000 };

/**
 * Demo and load data are "as of" the start of the current day (UTC), so the same seed number gives the same rows all
 * day, and the data stays recent: a fixed date would age past the queue's retention and the scheduler's first
 * tick would prune the demo's history.
 */
const startOfDay = (now: Date) => new Date(Math.floor(now.getTime() / 86_400_000) * 86_400_000);

/** How much data `knex seed:run` makes, and how, from the environment. */
const planSchema = z.object({
  SEED_SCENARIO: z.enum(seedScenarios).default('demo'),
  SEED: z.coerce.number().int().min(0).default(defaultSeed),
  /** Default: 1,000 for demo, 200 for queue, 1,000,000 for load. */
  SEED_VIDEOS: z.coerce.number().int().min(0).max(10_000_000).optional(),
  /** Default: one channel per 1,000 videos, at least 30 (6 for queue). */
  SEED_CHANNELS: z.coerce.number().int().min(1).max(1_000_000).optional(),
  /** The share of videos with a transcript: the completed ones. */
  SEED_TRANSCRIPT_SHARE: z.coerce.number().min(0).max(1).default(0.2),
  SEED_SESSIONS: z.coerce.number().int().min(1).max(1_000).default(3),
  /**
   * Videos per COPY batch. PostgreSQL loads a table faster the longer it stays with it: at a million videos,
   * batches of 25,000 took 85-88 s where 5,000 took 100-102 s, at about 700 MB of peak memory instead of less.
   */
  SEED_BATCH_VIDEOS: z.coerce.number().int().min(1).max(1_000_000).default(25_000),
  /** `replace` empties the five tables first; `add` adds to what is there (a developer's own database). */
  SEED_MODE: z.enum(['replace', 'add']).default('replace'),
  /** Prints the plan and the rows it would write, and writes nothing. */
  SEED_DRY_RUN: z.stringbool().default(false),
  /** The moment the data is "as of". Default: the start of the current UTC day for demo and load, the current minute for queue. */
  SEED_REFERENCE_DATE: z.iso.datetime().optional(),
  /** Allows replacing data when NODE_ENV=production. */
  SEED_FORCE: z.stringbool().default(false),
  NODE_ENV: z.string().default('development'),
});

export interface SeedPlan {
  scenario: SeedScenario;
  seed: number;
  videos: number;
  channels: number;
  transcriptShare: number;
  sessions: number;
  batchVideos: number;
  mode: 'replace' | 'add';
  dryRun: boolean;
  referenceDate: Date;
}

export function seedPlanFrom(env: NodeJS.ProcessEnv, now: Date = new Date()): SeedPlan {
  const options = parseEnvironment(planSchema, env, 'seed settings');
  if (options.NODE_ENV === 'production' && options.SEED_MODE === 'replace' && !options.SEED_FORCE) {
    throw new Error(
      'Will not replace data with seed data when NODE_ENV=production; set SEED_FORCE=true to insist',
    );
  }
  const scenario = options.SEED_SCENARIO;
  const videos = options.SEED_VIDEOS ?? defaultVideos[scenario];
  const minute = new Date(Math.floor(now.getTime() / 60_000) * 60_000);
  return {
    scenario,
    seed: options.SEED,
    videos,
    channels: options.SEED_CHANNELS ?? Math.max(scenario === 'queue' ? 6 : 30, Math.ceil(videos / 1_000)),
    transcriptShare: options.SEED_TRANSCRIPT_SHARE,
    sessions: options.SEED_SESSIONS,
    batchVideos: options.SEED_BATCH_VIDEOS,
    mode: options.SEED_MODE,
    dryRun: options.SEED_DRY_RUN,
    referenceDate: options.SEED_REFERENCE_DATE
      ? new Date(options.SEED_REFERENCE_DATE)
      : scenario === 'queue'
        ? minute
        : startOfDay(now),
  };
}
