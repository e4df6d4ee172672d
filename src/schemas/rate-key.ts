import { z } from 'zod';
import { count } from './fields';
import { pageInput } from './pagination';
import { maxStarts, perSeconds, rateKey } from './processing-job';

/**
 * A key's breaker: `closed` lets its jobs start; `open` stops them after a run of rate-limit errors, until its
 * cool-down ends; then one probe starts and the breaker is `half_open` for the probe's lease: a success closes
 * it, another rate limit opens it again.
 */
export const breakerStates = ['closed', 'open', 'half_open'] as const;
export const breakerState = z.enum(breakerStates);

const breakerThreshold = z.number().int().min(1).max(1_000);
const breakerCooldownSeconds = z.number().int().min(1).max(86_400);

/**
 * A key's start rate across all workers (`maxStarts: null` lifts it) and its breaker: how many rate-limit errors
 * in a row open it (3 unless set) and for how long (600 seconds unless set).
 */
export const setRateKeyInput = z
  .strictObject({
    key: rateKey,
    maxStarts: maxStarts.nullable(),
    perSeconds: perSeconds.optional(),
    breakerThreshold: breakerThreshold.optional(),
    breakerCooldownSeconds: breakerCooldownSeconds.optional(),
  })
  .refine((input) => (input.maxStarts === null) === (input.perSeconds === undefined), {
    path: ['perSeconds'],
    error: 'a rate needs perSeconds, and no rate takes it',
  });

/** The keys with a limit or a rate-limit history, in key order. */
export const listRateKeysInput = z.strictObject({ ...pageInput });

/** A key as the claim sees it now. */
export const rateKeySchema = z.strictObject({
  key: rateKey,
  maxStarts: maxStarts.nullable(),
  perSeconds: perSeconds.nullable(),
  /** Starts its jobs may make now under its rate; null without one. */
  startTokens: z.number().min(0).nullable(),
  /** A rate-limited failure holds the key's jobs back until then. */
  cooldownUntil: z.date().nullable(),
  /** Rate-limit errors since its last success. */
  rateLimitedInARow: count,
  breaker: breakerState,
  /** Open: when the probe may start; half open: when the probe's lease ends. Null when closed. */
  breakerUntil: z.date().nullable(),
  breakerThreshold,
  breakerCooldownSeconds,
  updatedAt: z.date(),
});
export type RateKey = z.infer<typeof rateKeySchema>;
