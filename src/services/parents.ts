import type { Knex } from 'knex';
import { NotFoundError } from './errors';

const tables = { channel: 'channels', video: 'videos', 'processing session': 'processing_sessions' } as const;

/**
 * A call about a parent's children (a channel's videos, a video's transcripts, a session's jobs) responds with 404 for a
 * parent that does not exist, rather than an empty response; the 404 names the input field the id came in.
 */
export async function requireParent(
  db: Knex,
  parent: keyof typeof tables,
  id: string,
  field: string,
): Promise<void> {
  const found = await db(tables[parent]).where({ id }).first('id');
  if (!found) throw new NotFoundError(parent, id, field);
}
