import { z } from 'zod';
import { defaultSeed } from './fake';

/** How much demo data `knex seed:run` makes, from the environment. */
const planSchema = z.object({
  SEED: z.coerce.number().int().min(0).default(defaultSeed),
  SEED_VIDEOS: z.coerce.number().int().min(0).max(10_000_000).default(1_000),
  /** Default: one channel per 1,000 videos, at least 30. */
  SEED_CHANNELS: z.coerce.number().int().min(1).max(1_000_000).optional(),
  /** The share of videos with a transcript: the completed ones. */
  SEED_TRANSCRIPT_SHARE: z.coerce.number().min(0).max(1).default(0.2),
  SEED_SESSIONS: z.coerce.number().int().min(1).max(1_000).default(3),
  /**
   * Videos per COPY batch. PostgreSQL loads a table faster the longer it stays with it: at a million videos,
   * batches of 25,000 took 85-88 s where 5,000 took 100-102 s, at about 700 MB of peak memory instead of less.
   */
  SEED_BATCH_VIDEOS: z.coerce.number().int().min(1).max(1_000_000).default(25_000),
  /** Allows seeding when NODE_ENV=production. */
  SEED_FORCE: z.stringbool().default(false),
  NODE_ENV: z.string().default('development'),
});

export interface SeedPlan {
  seed: number;
  videos: number;
  channels: number;
  transcriptShare: number;
  sessions: number;
  batchVideos: number;
}

export function seedPlanFrom(env: NodeJS.ProcessEnv): SeedPlan {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const parsed = planSchema.safeParse(present);
  if (!parsed.success) {
    throw new Error(
      `Invalid seed settings: ${parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`,
    );
  }
  const options = parsed.data;
  if (options.NODE_ENV === 'production' && !options.SEED_FORCE) {
    throw new Error(
      'Refusing to replace data with demo data when NODE_ENV=production; set SEED_FORCE=true to insist',
    );
  }
  return {
    seed: options.SEED,
    videos: options.SEED_VIDEOS,
    channels: options.SEED_CHANNELS ?? Math.max(30, Math.ceil(options.SEED_VIDEOS / 1_000)),
    transcriptShare: options.SEED_TRANSCRIPT_SHARE,
    sessions: options.SEED_SESSIONS,
    batchVideos: options.SEED_BATCH_VIDEOS,
  };
}
