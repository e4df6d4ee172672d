import type { Knex } from 'knex';
import type { z } from 'zod';
import { fromColumns } from '../models/columns';
import type { Page } from '../schemas/pagination';
import type { JobTypeSettings, setJobTypeRateInput } from '../schemas/processing-job';
import {
  type listRateKeysInput,
  type RateKey,
  rateKeySchema,
  type setRateKeyInput,
} from '../schemas/rate-key';
import { jobTypeSettings } from '../services/job-types';
import { retryLostRaces } from '../services/lost-races';

/**
 * Start rates, per job type and per key, as token buckets the claim draws from for every worker at once
 * (src/queue/sql/claim_jobs.sql), and the state of each key's breaker. A key has a row once it is limited or
 * rate-limited (src/queue/failure-policies.ts).
 */

/**
 * Sets how many jobs of a type may start per `perSeconds` across all workers (none with `maxStarts: null`); the
 * bucket starts full. Claims that start after it commits obey it.
 */
export async function setJobTypeRate(
  db: Knex,
  input: z.output<typeof setJobTypeRateInput>,
): Promise<JobTypeSettings> {
  await retryLostRaces(() =>
    db('job_types')
      .where('name', input.jobType)
      .update({
        max_starts: input.maxStarts,
        per_seconds: input.perSeconds ?? null,
        start_tokens: 0,
        tokens_at: null,
      }),
  );
  return jobTypeSettings(db, input.jobType);
}

/** The keys' rows (from `after`, or the one named) as the claim sees them at `clock`, the server's by default. */
async function rateKeyRows(
  db: Knex,
  options: { after?: string; key?: string; limit?: number; clock?: Date },
): Promise<RateKey[]> {
  const clock = db.raw('coalesce(?::timestamptz, now())', [options.clock ?? null]);
  const rows = await db('rate_keys')
    .modify((query) => {
      if (options.key !== undefined) query.where('key', options.key);
      if (options.after !== undefined) query.where('key', '>', options.after);
      if (options.limit !== undefined) query.limit(options.limit);
    })
    .orderBy('key')
    .select(
      'key',
      'max_starts',
      'per_seconds',
      db.raw('refilled_tokens(start_tokens, tokens_at, max_starts, per_seconds, ?) AS start_tokens', [clock]),
      db.raw('CASE WHEN cooldown_until > ? THEN cooldown_until END AS cooldown_until', [clock]),
      'rate_limited_in_a_row',
      'breaker',
      'breaker_until',
      'breaker_threshold',
      'breaker_cooldown_seconds',
      'updated_at',
    );
  return rows.map((row: Record<string, unknown>) => rateKeySchema.parse(fromColumns(row)));
}

/** A page of keys in key order; the cursor is the last key of the page before. */
export async function listRateKeys(
  db: Knex,
  input: z.output<typeof listRateKeysInput>,
  clock?: Date,
): Promise<Page<RateKey>> {
  const rows = await rateKeyRows(db, { after: input.cursor, limit: input.limit + 1, clock });
  const items = rows.slice(0, input.limit);
  return { items, nextCursor: rows.length > input.limit ? items.at(-1)!.key : null };
}

/**
 * Sets a key's start rate (its bucket starts full) and, when given, its breaker's threshold and cool-down. A
 * key's breaker state and cool-down stay as they are.
 */
export async function setRateKey(db: Knex, input: z.output<typeof setRateKeyInput>): Promise<RateKey> {
  // Stryker disable ConditionalExpression: knex leaves out a column whose value is undefined, as the empty object does.
  const breaker = {
    ...(input.breakerThreshold === undefined ? {} : { breaker_threshold: input.breakerThreshold }),
    ...(input.breakerCooldownSeconds === undefined
      ? {}
      : { breaker_cooldown_seconds: input.breakerCooldownSeconds }),
  };
  // Stryker restore ConditionalExpression
  const rate = {
    max_starts: input.maxStarts,
    per_seconds: input.perSeconds ?? null,
    start_tokens: 0,
    tokens_at: null,
  };
  await retryLostRaces(() =>
    db('rate_keys')
      .insert({ key: input.key, ...rate, ...breaker })
      .onConflict('key')
      .merge({ ...rate, ...breaker }),
  );
  const [key] = await rateKeyRows(db, { key: input.key });
  return key!;
}
