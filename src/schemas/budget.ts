import { z } from 'zod';
import { count } from './fields';

/** A quota budget's name, such as `youtube-data-api`: one per API key or Google Cloud project. */
export const budgetName = z
  .string()
  .regex(
    /^[a-z][a-z0-9_-]{0,62}$/,
    'must be 1 to 63 lower-case letters, digits, - or _, starting with a letter',
  );

/** Units a budget holds per window, or a job type spends per start. */
export const budgetUnits = z.number().int().min(0).max(2_000_000_000);

const isTimeZone = (zone: string) => {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
};

/**
 * An IANA time zone name (`America/Los_Angeles`, `UTC`). A zone written as an offset (`+01:00`) is rejected:
 * PostgreSQL reads such a name as a POSIX zone, with the sign the other way round.
 */
export const timeZone = z
  .string()
  .max(100)
  .regex(
    /^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/,
    'must be an IANA time zone such as America/Los_Angeles',
  )
  .refine(isTimeZone, 'must be an IANA time zone such as America/Los_Angeles');

/** The longest rolling window: a day, the longest a calendar window lasts but for a clock change. */
export const maxWindowSeconds = 86_400;

/**
 * A budget's capacity and window: a calendar day in `timeZone` (it resets at local midnight, so a day lasts 23,
 * 24 or 25 hours) or a rolling window of `windowSeconds`. Setting a budget clears a mark of exhaustion.
 */
export const setBudgetInput = z
  .strictObject({
    name: budgetName,
    capacity: budgetUnits,
    timeZone: timeZone.optional(),
    windowSeconds: z.number().int().min(1).max(maxWindowSeconds).optional(),
  })
  .refine((input) => (input.timeZone === undefined) !== (input.windowSeconds === undefined), {
    path: ['timeZone'],
    error: 'give timeZone (a calendar day) or windowSeconds (a rolling window), one of the two',
  });

/** A budget as readers see it: its window, what its window's claims spent and what is left until it resets. */
export const budgetSchema = z.strictObject({
  name: budgetName,
  capacity: budgetUnits,
  timeZone: z.string().nullable(),
  windowSeconds: z.number().int().nullable(),
  /** Units spent in the current window: each claim's cost, or what its worker reported instead. */
  used: count,
  /** Units a claim may still spend before the reset: none while the budget is marked exhausted. */
  left: count,
  windowStartsAt: z.date(),
  /**
   * When units come back: the next local midnight of a calendar day; for a rolling window, when its oldest spend
   * leaves it (null while it holds none).
   */
  resetsAt: z.date().nullable(),
  /** Set when a worker reported the budget spent (YouTube's `quotaExceeded`): no claim spends it until then. */
  exhaustedUntil: z.date().nullable(),
  updatedAt: z.date(),
});
export type Budget = z.infer<typeof budgetSchema>;
