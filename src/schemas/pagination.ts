import { z } from 'zod';
import { timestamp } from './fields';

const maxPageSize = 100;

/** Keyset pagination: `limit` rows after `cursor` (the `nextCursor` of the previous page). */
export const pageInput = {
  limit: z.number().int().min(1).max(maxPageSize).default(20),
  // The pattern is the form the services write a cursor in (base64url); they reject any other as not theirs.
  cursor: z
    .string()
    .max(200)
    .meta({
      pattern: '^[A-Za-z0-9_-]+$',
      description: 'The `nextCursor` of the previous page, passed back as it came.',
    })
    .optional(),
};

export interface Page<T> {
  items: T[];
  /** Pass it back as `cursor` for the next page; null on the last one. */
  nextCursor: string | null;
}

/** A creation-time range, shared by every list. */
export const createdRange = {
  createdAfter: timestamp.optional(),
  createdBefore: timestamp.optional(),
};
