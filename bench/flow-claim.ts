import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { connect } from '../src/db/connect';
import { startEmbeddedPostgres } from '../src/db/embedded-postgres';
import { ensureDatabase } from '../src/db/provision';
import { setBudget, setJobTypeCost } from '../src/queue/budgets';
import { setJobTypeRate, setRateKey } from '../src/queue/rate-limits';
import { claimJobsInput } from '../src/schemas/processing-job';
import { claimJobs } from '../src/queue/job-queue';
import { captureQueries, explain } from './explain';
import { addFinishedJobs } from './retention';

/**
 * `tsx bench/flow-claim.ts`: one claim of ten with the flow control set (a daily budget, start rates, a key
 * cooling down) over a million finished jobs and a backlog of 50,000 on one channel beside one job on each of
 * 1,000 others: `EXPLAIN (ANALYZE, BUFFERS)` of the claim and of the statements `claim_jobs` runs, with the indexes
 * they use. Then the same once the other channels are drained and the backlog's channel cools down, the case
 * where a claim reads past the most jobs it cannot start. Beside them, 50,000 keys rate limited once, whose
 * cool-downs ended long ago (a channel keeps its key's row). `FLOW_FINISHED_JOBS`, `FLOW_BACKLOG` and
 * `FLOW_PAST_KEYS` set the sizes.
 */
const finishedJobs = Number(process.env.FLOW_FINISHED_JOBS ?? 1_000_000);
const backlogJobs = Number(process.env.FLOW_BACKLOG ?? 50_000);
const pastKeys = Number(process.env.FLOW_PAST_KEYS ?? 50_000);
const otherKeys = 1_000;

async function main(): Promise<void> {
  const embedded = process.env.DATABASE_URL
    ? undefined
    : await startEmbeddedPostgres({
        dataDir: path.join(mkdtempSync(path.join(os.tmpdir(), 'tubesensei-flow-')), 'pgdata'),
        persistent: false,
      });
  const serverUrl = embedded?.url ?? process.env.DATABASE_URL!;
  const name = `tubesensei_flow_${randomBytes(3).toString('hex')}`;
  const db = connect(await ensureDatabase(serverUrl, name), {
    DATABASE_POOL_SIZE: 4,
    DATABASE_CONNECT_TIMEOUT_MS: 10_000,
    DEBUG: false,
  });
  try {
    await db.migrate.latest();
    console.log(`Adding ${finishedJobs.toLocaleString('en')} finished jobs ...`);
    await addFinishedJobs(db, finishedJobs);
    const queue = (key: string, count: number) =>
      db.raw(
        `INSERT INTO processing_jobs (job_type, entity_type, entity_id, rate_key, run_after)
         SELECT 'channel_discovery', 'channel', gen_random_uuid(), ?, now() - interval '1 hour'
           FROM generate_series(1, ?)`,
        [key, count],
      );
    await queue('channel:backfill', backlogJobs);
    for (let index = 0; index < otherKeys; index += 1) await queue(`channel:other-${index}`, 1);
    await setBudget(db, { name: 'youtube-data-api', capacity: 1_000_000, timeZone: 'America/Los_Angeles' });
    await setJobTypeCost(db, { jobType: 'channel_discovery', budget: 'youtube-data-api', units: 3 });
    await setJobTypeRate(db, { jobType: 'channel_discovery', maxStarts: 100_000, perSeconds: 60 });
    await setRateKey(db, { key: 'channel:other-0', maxStarts: 10, perSeconds: 60 });
    await db.raw(
      `INSERT INTO rate_keys (key, cooldown_until, rate_limited_in_a_row)
       SELECT 'channel:past-' || n, now() - interval '1 day', 0 FROM generate_series(1, ?) n`,
      [pastKeys],
    );
    await db.raw('VACUUM (ANALYZE)');

    // The best of three explains (each rolled back), as a busy machine slows some runs down.
    const explainClaim = async (label: string) => {
      const [claim] = await captureQueries(db, () =>
        claimJobs(db, claimJobsInput.parse({ workerId: 'explain', limit: 10 })),
      );
      const runs = [];
      for (let run = 0; run < 3; run += 1) runs.push(await explain(db, label, claim!.sql, claim!.bindings));
      const explained = runs.reduce((best, run) => (run.ms < best.ms ? run : best));
      console.log(
        `| ${label} | ${explained.ms.toFixed(2)} | ${explained.indexes.join(', ')} | ${explained.seqScans.join(', ') || 'none'} |`,
      );
    };
    console.log(`${pastKeys.toLocaleString('en')} keys rate limited once beside them`);
    console.log('| claim of ten | execution ms | indexes used | sequential scans of large tables |');
    console.log('| --- | ---: | --- | --- |');
    await explainClaim('backlog of 50,000 on one channel, one job on each of 1,000 others');
    await db.raw(`UPDATE processing_jobs SET status = 'cancelled', completed_at = now()
                   WHERE status = 'queued' AND rate_key LIKE 'channel:other-%'`);
    await db.raw(
      `INSERT INTO rate_keys (key, cooldown_until) VALUES ('channel:backfill', now() + interval '1 hour')`,
    );
    await db.raw('VACUUM (ANALYZE) processing_jobs');
    await explainClaim('only the backlog left, its channel cooling down');
  } finally {
    await db.destroy();
    const client = new pg.Client({ connectionString: serverUrl });
    await client.connect();
    await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)} WITH (FORCE)`);
    await client.end();
    await embedded?.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
