import { z } from 'zod';
import { timestamp } from './fields';

const maxPageSize = 100;

/** Keyset pagination: `limit` rows after `cursor` (the `nextCursor` of the previous page). */
export const pageInput = {
  limit: z.number().int().min(1).max(maxPageSize).default(20),
  cursor: z.string().max(200).optional(),
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
