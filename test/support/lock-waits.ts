import { testDatabase } from './database';

/** The statements of this test file's database waiting for a row lock now. */
export async function lockWaits(): Promise<string[]> {
  const rows = await testDatabase()
    .db('pg_stat_activity')
    .where('wait_event_type', 'Lock')
    .whereRaw('datname = current_database()')
    .select<{ query: string }[]>('query');
  return rows.map((row) => row.query);
}

/** Whether a statement starting with `prefix` waits for a row lock now. */
export const waitsForLock = async (prefix: string) =>
  (await lockWaits()).some((query) => query.startsWith(prefix));
