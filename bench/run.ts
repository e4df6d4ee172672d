import { claimJobsInput } from '../src/schemas/processing-job';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import prettier from 'prettier';
import { startEmbeddedPostgres } from '../src/db/embedded-postgres';
import { connect } from '../src/db/connect';
import { ensureDatabase } from '../src/db/provision';
import { seedDatabase } from '../dev/seeding/bulk-seed';
import { seedPlanFrom } from '../dev/seeding/seed-plan';
import { channelFactory } from '../dev/factories';
import { countChannelVideos, listChannels } from '../src/services/channels';
import { setBudget, setJobTypeCost } from '../src/queue/budgets';
import { setJobTypeRate, setRateKey } from '../src/queue/rate-limits';
import { claimJobs, completeJobs } from '../src/queue/job-queue';
import { getJob, listJobs } from '../src/services/processing-jobs';
import { sessionProgress } from '../src/services/processing-sessions';
import { enqueueDueDiscoveries, pruneFinishedJobs } from '../src/queue/schedules';
import { listTranscripts } from '../src/services/transcripts';
import { getVideo, listVideos } from '../src/services/videos';
import { copyBaseline } from './copy-baseline';
import { captureQueries, type Explained, explain } from './explain';
import { type LoadResult, loadScenario, type Scenario, startServer } from './load';
import { drainQueue, overRounds, type QueueResult } from './queue';
import { scrapeMetrics } from './metrics-scrape';
import { addFinishedJobs, jobsTableSize, pruneAll } from './retention';
import { compareRuntimes } from './runtimes';

/**
 * `npm run bench`: every figure is measured against a baseline in the same run on the same database. BENCH_VIDEOS
 * sets the scale (default 1,000,000); under CI it runs tiny, to prove it still works and that no query scans a
 * large table, asserting no timings.
 */
const tiny = process.env.CI === 'true' && !process.env.BENCH_VIDEOS;
const videos = Number(process.env.BENCH_VIDEOS ?? (tiny ? 3_000 : 1_000_000));
const seconds = Number(process.env.BENCH_SECONDS ?? (tiny ? 1 : 8));
const queueJobs = Number(process.env.BENCH_JOBS ?? (tiny ? 500 : 10_000));
/** Finished jobs piled up before the queue is measured with a long history, then pruned. */
const finishedJobs = Number(process.env.BENCH_FINISHED_JOBS ?? (tiny ? 5_000 : 1_000_000));
/** Jobs enqueued one at a time into idle workers, for the enqueue-to-start latency. */
const latencySamples = tiny ? 20 : 200;
/** Each queue drains this many times, taking turns, and its figure is over all its rounds. */
const queueRounds = tiny ? 1 : 2;
/** `BENCH_ONLY=api`: seed, explain and load the servers, then stop. */
const apiOnly = process.env.BENCH_ONLY === 'api';
/** `BENCH_ONLY=worker`: seed, then only `createWorker` against graphile-worker's runner; nothing is written. */
const workerOnly = process.env.BENCH_ONLY === 'worker';
const connections = 20;
const poolSize = 20;

const log = (line: string) => console.log(line);
const fixed = (n: number, digits = 1) => n.toFixed(digits);
const ratio = (ours: number, base: number) => (base > 0 ? ours / base : 0);

async function main(): Promise<void> {
  const startedAt = new Date();
  const dataDir = path.join(mkdtempSync(path.join(os.tmpdir(), 'tubesensei-bench-')), 'pgdata');
  const embedded = process.env.DATABASE_URL
    ? undefined
    : await startEmbeddedPostgres({ dataDir, persistent: false });
  const serverUrl = embedded?.url ?? process.env.DATABASE_URL!;
  const names = ['main', 'copy'].map((kind) => `tubesensei_bench_${kind}_${randomBytes(3).toString('hex')}`);
  const [mainUrl, copyUrl] = await Promise.all(names.map((name) => ensureDatabase(serverUrl, name)));
  const settings = { DATABASE_POOL_SIZE: poolSize, DATABASE_CONNECT_TIMEOUT_MS: 10_000, DEBUG: false };
  const copyDb = connect(copyUrl!, settings);
  await copyDb.migrate.latest();
  const db = connect(mainUrl!, settings);
  await db.migrate.latest();
  const lines: string[] = [];
  let failed = false;

  try {
    log(`Seeding ${videos.toLocaleString('en')} videos ...`);
    const plan = seedPlanFrom({ SEED_SCENARIO: 'load', SEED: '1', SEED_VIDEOS: String(videos) });
    const seeded = await seedDatabase(db, plan);
    const seededRows = Object.values(seeded.rows).reduce((a, b) => a + b, 0);
    if (workerOnly) {
      const api = await startServer('ours.ts', mainUrl!, poolSize);
      try {
        const runtimes = compareRuntimes({
          db,
          apiUrl: api.address,
          connectionString: mainUrl!,
          jobs: queueJobs,
          concurrency: 16,
          poolSize,
        });
        for (let round = 0; round < queueRounds; round += 1) await runtimes.round();
        await runtimes.measureLatency(latencySamples);
        log(
          [
            '| runtime | handler | jobs | seconds | jobs/s | ratio | run more than once |',
            '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
            ...runtimes.rows(),
            ...runtimes.latencyLines(),
            runtimes.summary(),
          ].join('\n'),
        );
        failed = runtimes.ranTwice();
      } finally {
        api.stop();
      }
      return;
    }
    const copy = await copyBaseline(db, copyDb);
    lines.push(
      '## Seeding',
      '',
      '| path | rows | seconds | rows/s | ratio to COPY |',
      '| --- | ---: | ---: | ---: | ---: |',
      `| \`knex seed:run\` path (generate + COPY) | ${seededRows.toLocaleString('en')} | ${fixed(seeded.seconds)} | ${Math.round(seeded.rowsPerSecond).toLocaleString('en')} | ${fixed(seeded.seconds / copy.seconds, 2)}x |`,
      `| COPY FROM STDIN of the same rows (${Math.round(copy.megabytes)} MB) | ${copy.rows.toLocaleString('en')} | ${fixed(copy.seconds)} | ${Math.round(copy.rows / copy.seconds).toLocaleString('en')} | 1.00x |`,
      '',
    );
    log(lines.slice(-4, -1).join('\n'));

    const busiest = await db('videos')
      .select('channel_id')
      .count('* as n')
      .groupBy('channel_id')
      .orderBy('n', 'desc')
      .first();
    const channelId = busiest!.channel_id as string;
    const sample = await db('videos')
      .where({ channel_id: channelId })
      .first('id', 'youtube_video_id', 'tags');
    const session = await db('processing_sessions').first('id');
    const aJob = await db('processing_jobs').where('entity_type', 'video').first('id', 'entity_id');

    const limitTranscripts = (maxRunning: number | null) =>
      db('job_types').where({ name: 'transcript_extraction' }).update({ max_running: maxRunning });
    /** A daily budget that discoveries spend, start rates on transcripts and on the busiest channel; or none. */
    const flowControl = async (on: boolean) => {
      if (!on) {
        await setJobTypeCost(db, { jobType: 'channel_discovery', budget: null });
        await setJobTypeRate(db, { jobType: 'transcript_extraction', maxStarts: null });
        await db('rate_keys').delete();
        await db('quota_budgets').delete();
        return;
      }
      await setBudget(db, { name: 'youtube-data-api', capacity: 1_000_000, timeZone: 'America/Los_Angeles' });
      await setJobTypeCost(db, { jobType: 'channel_discovery', budget: 'youtube-data-api', units: 3 });
      await setJobTypeRate(db, { jobType: 'transcript_extraction', maxStarts: 100_000, perSeconds: 60 });
      await setRateKey(db, { key: `channel:${channelId}`, maxStarts: 1_000, perSeconds: 60 });
    };
    /** Each path: its name, the work, and what to set up before it (not explained). */
    const paths: [string, () => Promise<unknown>, (() => Promise<unknown>)?][] = [
      [
        'videos.get by id, with channel and transcripts',
        () => getVideo(db, { id: sample.id, include: ['channel', 'transcripts'] }),
      ],
      ['videos.get by YouTube id', () => getVideo(db, { youtubeVideoId: sample.youtube_video_id })],
      [
        'videos.list: one channel, one status, newest first, 50',
        () => listVideos(db, { channelId, status: 'completed', limit: 50 }),
      ],
      ['videos.list: one status, 50', () => listVideos(db, { status: 'failed', limit: 50 })],
      ['videos.list: newest first, 50', () => listVideos(db, { limit: 50 })],
      ['videos.list: tag', () => listVideos(db, { tags: [sample.tags[0]], limit: 50 })],
      ['videos.list: title search', () => listVideos(db, { search: 'Sourdough', limit: 50 })],
      ['channels.list: status', () => listChannels(db, { status: 'paused', limit: 50 })],
      ['channels.videoCounts', () => countChannelVideos(db, channelId)],
      ['transcripts.list: one video', () => listTranscripts(db, { videoId: sample.id, limit: 20 })],
      ['jobs.list: one session, 50', () => listJobs(db, { sessionId: session.id, limit: 50 })],
      ['jobs.list: status running, 50', () => listJobs(db, { status: 'running', limit: 50 })],
      ['jobs.list: job type, 50', () => listJobs(db, { jobType: 'channel_discovery', limit: 50 })],
      [
        'jobs.list: one entity',
        () => listJobs(db, { entityType: 'video', entityId: aJob.entity_id, limit: 20 }),
      ],
      ['jobs.get with session and video', () => getJob(db, aJob.id, ['session', 'video'])],
      ['sessions.progress', () => sessionProgress(db, session.id)],
      ['jobs.claim (10)', () => claimJobs(db, claimJobsInput.parse({ workerId: 'explain', limit: 10 }))],
      ['scheduler: due channels enqueued (500)', () => enqueueDueDiscoveries(db, 500)],
      [
        'scheduler: finished jobs pruned (500)',
        () => pruneFinishedJobs(db, new Date(Date.now() - 14 * 86_400_000), 500),
      ],
      [
        'jobs.claim (10), transcripts limited to 1,000 running',
        () => claimJobs(db, claimJobsInput.parse({ workerId: 'explain', limit: 10 })),
        () => limitTranscripts(1_000),
      ],
      [
        'jobs.claim (10), a daily budget and start rates set',
        () => claimJobs(db, claimJobsInput.parse({ workerId: 'explain', limit: 10 })),
        async () => {
          await limitTranscripts(null);
          await flowControl(true);
        },
      ],
    ];
    const explained: Explained[] = [];
    for (const [name, run, setUp] of paths) {
      await setUp?.();
      const statements = await captureQueries(db, run);
      for (const [index, statement] of statements.entries()) {
        if (/^(begin|commit|rollback)/i.test(statement.sql.trim())) continue;
        explained.push(
          await explain(
            db,
            statements.length > 1 ? `${name} (${index + 1})` : name,
            statement.sql,
            statement.bindings,
            { forbidSeqScans: tiny },
          ),
        );
      }
    }
    await limitTranscripts(null);
    await flowControl(false);
    await db.raw(
      `UPDATE processing_jobs SET status = 'queued', attempts = 0, lease_token = NULL, lease_expires_at = NULL, locked_by = NULL WHERE locked_by = 'explain'`,
    );
    await db('processing_jobs')
      .where({ status: 'queued' })
      .whereJsonSupersetOf('metadata', { scheduled: true })
      .delete();
    lines.push(
      `## Queries at scale (${videos.toLocaleString('en')} videos, ${seeded.rows.transcripts.toLocaleString('en')} transcripts, ${seeded.rows.processing_jobs.toLocaleString('en')} jobs)`,
      '',
      '`EXPLAIN (ANALYZE, BUFFERS)` of every statement each path sends, and (auto_explain) of the statements the queue functions run.',
      '',
      '| path | execution ms | indexes used | sequential scans of large tables |',
      '| --- | ---: | --- | --- |',
      ...explained.map(
        (e) =>
          `| ${e.name} | ${fixed(e.ms, 2)} | ${e.indexes.join(', ') || '-'} | ${e.seqScans.join(', ') || 'none'} |`,
      ),
      '',
    );
    const scans = explained.filter((e) => e.seqScans.length > 0);
    if (scans.length > 0) {
      failed = true;
      log(`Sequential scans of large tables: ${scans.map((e) => e.name).join('; ')}`);
    }
    log(
      `Explained ${explained.length} statements; slowest ${fixed(Math.max(...explained.map((e) => e.ms)), 2)} ms`,
    );

    const listInput = encodeURIComponent(
      JSON.stringify({ json: { channelId, status: 'completed', limit: 50 } }),
    );
    const getInput = encodeURIComponent(JSON.stringify({ json: { id: sample.id } }));
    let sequence = 0;
    const newChannel = () => {
      const { name, youtubeChannelId, channelUrl } = channelFactory.build();
      sequence += 1;
      return { name: `${name} ${sequence}`, youtubeChannelId, channelUrl };
    };
    const scenarios: Scenario[] = [
      { name: 'videos.get', method: 'GET', request: () => ({ path: `/trpc/videos.get?input=${getInput}` }) },
      {
        name: 'videos.list (50)',
        method: 'GET',
        request: () => ({ path: `/trpc/videos.list?input=${listInput}` }),
      },
      {
        name: 'channels.create',
        method: 'POST',
        request: () => ({ path: '/trpc/channels.create', body: JSON.stringify({ json: newChannel() }) }),
      },
      {
        name: 'REST GET /api/videos/{id}',
        method: 'GET',
        request: () => ({ path: `/api/videos/${sample.id}` }),
      },
      {
        name: 'REST GET /api/channels/{id}/videos (50)',
        method: 'GET',
        request: () => ({ path: `/api/channels/${channelId}/videos?status=completed&limit=50` }),
      },
      {
        name: 'REST POST /api/channels',
        method: 'POST',
        request: () => ({ path: '/api/channels', body: JSON.stringify(newChannel()) }),
      },
    ];
    log('Loading the servers ...');
    // Both servers stay up and take each scenario in turn, so a drift in the machine's speed reaches both.
    const servers = {
      ours: await startServer('ours.ts', mainUrl!, poolSize),
      bare: await startServer('bare.ts', mainUrl!, poolSize),
    };
    const ours: Record<string, LoadResult> = {};
    const bare: Record<string, LoadResult> = {};
    try {
      for (const scenario of scenarios) {
        ours[scenario.name] = await loadScenario(servers.ours, scenario, connections, seconds);
        bare[scenario.name] = await loadScenario(servers.bare, scenario, connections, seconds);
      }
    } finally {
      servers.ours.stop();
      servers.bare.stop();
    }
    lines.push(
      `## API overhead (autocannon, ${connections} connections, ${seconds} s per row, loopback, ${poolSize} database connections per server)`,
      '',
      '| procedure | ours req/s | bare req/s | ratio | ours p50 / p99 ms | bare p50 / p99 ms | errors |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...scenarios.map(({ name }) => {
        const o = ours[name]!;
        const b = bare[name]!;
        return `| ${name} | ${Math.round(o.requestsPerSecond)} | ${Math.round(b.requestsPerSecond)} | ${fixed(ratio(o.requestsPerSecond, b.requestsPerSecond), 2)} | ${o.p50} / ${o.p99} | ${b.p50} / ${b.p99} | ${o.errors + b.errors} |`;
      }),
      '',
      '## Memory (resident set of the server process)',
      '',
      '| server | idle MB | peak under load MB |',
      '| --- | ---: | ---: |',
      `| ours | ${fixed(ours['videos.get']!.idleRssMb)} | ${fixed(Math.max(...Object.values(ours).map((r) => r.peakRssMb)))} |`,
      `| bare | ${fixed(bare['videos.get']!.idleRssMb)} | ${fixed(Math.max(...Object.values(bare).map((r) => r.peakRssMb)))} |`,
      '',
    );
    log(lines.slice(-14).join('\n'));
    // Another round of the API figures alone, to see their spread; nothing is written.
    if (apiOnly) return;

    log('Draining the queues ...');
    const rounds: Record<'one' | 'ten' | 'tenTogether', QueueResult[]> = {
      one: [],
      ten: [],
      tenTogether: [],
    };
    const api = await startServer('ours.ts', mainUrl!, poolSize);
    const runtimes = compareRuntimes({
      db,
      apiUrl: api.address,
      connectionString: mainUrl!,
      jobs: queueJobs,
      concurrency: 16,
      poolSize,
    });
    try {
      for (let round = 0; round < queueRounds; round += 1) {
        await runtimes.round();
        rounds.one.push(await drainQueue(db, queueJobs, 16, 1));
        rounds.ten.push(await drainQueue(db, queueJobs, 16, 10));
        rounds.tenTogether.push(await drainQueue(db, queueJobs, 16, 10, 'together'));
      }
      log('Measuring enqueue-to-start latency ...');
      await runtimes.measureLatency(latencySamples);
    } finally {
      api.stop();
    }
    const one = overRounds(rounds.one);
    const ten = overRounds(rounds.ten);
    const tenTogether = overRounds(rounds.tenTogether);
    const peer = runtimes.peer('no-op');
    const queueRow = (name: string, result: QueueResult) =>
      `| ${name} | no-op | ${result.jobs.toLocaleString('en')} | ${fixed(result.seconds)} | ${Math.round(result.jobsPerSecond)} | ${fixed(ratio(result.jobsPerSecond, peer.jobsPerSecond), 2)} | ${result.ranMoreThanOnce} |`;
    const throughput = [
      `## Job throughput (16 workers, same database, ${poolSize} connections per queue, ${queueRounds} rounds taking turns)`,
      '',
      '| queue | handler | jobs | seconds | jobs/s | ratio to graphile-worker, same handler | run more than once |',
      '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
      queueRow('ours, claim 1 at a time (service layer)', one),
      queueRow('ours, claim 10 at a time (service layer)', ten),
      queueRow('ours, claim 10 at a time, complete them in one call (service layer)', tenTogether),
      ...runtimes.rows(),
      '',
      runtimes.summary(),
      '',
      `## Enqueue to handler start (one job at a time into idle workers, ${latencySamples} samples, same database)`,
      '',
      ...runtimes.latencyLines(),
      '',
    ];
    lines.push(...throughput);
    if ([one, ten, tenTogether].some((result) => result.ranMoreThanOnce > 0) || runtimes.ranTwice())
      failed = true;
    log(throughput.join('\n'));

    log(`Measuring the queue with ${finishedJobs.toLocaleString('en')} finished jobs, then pruned ...`);
    const claimMs = async () => {
      const [claim] = await captureQueries(db, () =>
        claimJobs(db, claimJobsInput.parse({ workerId: 'explain', limit: 10 })),
      );
      await db.raw(
        `UPDATE processing_jobs SET status = 'queued', attempts = 0, lease_token = NULL, lease_expires_at = NULL, locked_by = NULL WHERE locked_by = 'explain'`,
      );
      return (await explain(db, 'claim', claim!.sql, claim!.bindings)).ms;
    };
    const completeMs = async () => {
      const claimed = await claimJobs(db, claimJobsInput.parse({ workerId: 'explain', limit: 10 }));
      const [complete] = await captureQueries(db, () =>
        completeJobs(db, { jobs: claimed.map((job) => ({ id: job.id, leaseToken: job.leaseToken! })) }),
      );
      return (await explain(db, 'complete', complete!.sql, complete!.bindings)).ms;
    };
    const history = async () => ({
      size: await jobsTableSize(db),
      claimMs: await claimMs(),
      completeMs: await completeMs(),
      drain: await drainQueue(db, queueJobs, 16, 10, 'together'),
    });
    const fresh = await history();
    await addFinishedJobs(db, finishedJobs);
    const piled = await history();
    const scrape = await scrapeMetrics(db, 20);
    const tableRows = (await jobsTableSize(db)).rows;
    // The target for a scrape at a million finished jobs, and the counts it serves held to the rows.
    const scrapeTargetMs = 50;
    const scrapeMissed = !tiny && scrape.p50Ms >= scrapeTargetMs;
    if (scrapeMissed || scrape.jobs !== tableRows) failed = true;
    const prune = await pruneAll(db, 500);
    const pruned = await history();
    const historyRow = (name: string, h: Awaited<ReturnType<typeof history>>) =>
      `| ${name} | ${h.size.rows.toLocaleString('en')} | ${Math.round(h.size.megabytes)} | ${fixed(h.claimMs, 2)} | ${fixed(h.completeMs, 2)} | ${Math.round(h.drain.jobsPerSecond)} | ${fixed(ratio(h.drain.jobsPerSecond, fresh.drain.jobsPerSecond), 2)} |`;
    lines.push(
      `## A long history, pruned (${finishedJobs.toLocaleString('en')} jobs finished 30+ days ago, retention 14 days, batches of 500)`,
      '',
      `Pruning took ${fixed(prune.seconds)} s for ${prune.pruned.toLocaleString('en')} jobs (${Math.round(prune.pruned / prune.seconds).toLocaleString('en')} jobs/s), then \`VACUUM (ANALYZE)\` as autovacuum would. Claim and complete: \`EXPLAIN ANALYZE\` of one call of 10 jobs; drain: 16 workers claiming 10 and completing them together (${queueJobs.toLocaleString('en')} jobs).`,
      '',
      '| jobs table | rows | MB with indexes | claim (10) ms | complete (10) ms | drain jobs/s | ratio to before the history |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
      historyRow('as seeded', fresh),
      historyRow(`with ${finishedJobs.toLocaleString('en')} finished jobs`, piled),
      historyRow('after pruning', pruned),
      '',
      `A scrape of \`/metrics\` with ${tableRows.toLocaleString('en')} jobs in the table (loopback, one at a time): the first, which folds the job counts' delta rows, ${fixed(scrape.firstMs, 2)} ms; then p50 ${fixed(scrape.p50Ms, 2)} ms, max ${fixed(scrape.maxMs, 2)} ms over ${scrape.scrapes} (target: under ${scrapeTargetMs} ms${scrapeMissed ? ', MISSED' : ''}). Jobs it counts: ${scrape.jobs.toLocaleString('en')}${scrape.jobs === tableRows ? ', as many as the table holds' : ", NOT the table's count"}.`,
      '',
    );
    if ([fresh, piled, pruned].some((h) => h.drain.ranMoreThanOnce > 0)) failed = true;
    log(lines.slice(-10, -1).join('\n'));

    const header = [
      '# Benchmarks',
      '',
      `Written by \`npm run bench\` on ${startedAt.toISOString().slice(0, 10)}: ${os.cpus().length} cores (${os.cpus()[0]?.model.trim()}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, PostgreSQL ${await serverVersion(serverUrl)}${embedded ? ' (embedded)' : ''}. Scale: \`BENCH_VIDEOS=${videos}\`. Every ratio compares two figures from this same run on the same database.`,
      '',
    ];
    if (!tiny) await writeBenchmarks([...header, ...lines].join('\n'));
  } finally {
    await db.destroy();
    await copyDb.destroy();
    // An embedded server goes with its data; on a server of the caller's, each run's two databases would be left
    // behind at the scale seeded.
    if (!embedded) await dropDatabases(serverUrl, names);
    await embedded?.stop();
  }
  if (failed) {
    console.error('bench: failed (see above)');
    process.exit(1);
  }
}

/** Everything from this line on in BENCHMARKS.md is written by people (what changed, and why) and kept. */
const notesMarker = '<!-- Notes below are kept by npm run bench. -->';

/** Written as the project's Prettier settings format it, so `prettier --check` passes on what the bench writes. */
async function writeBenchmarks(tables: string): Promise<void> {
  const file = path.join(__dirname, '..', 'BENCHMARKS.md');
  const previous = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const notes = previous.includes(notesMarker) ? previous.slice(previous.indexOf(notesMarker)) : notesMarker;
  const options = await prettier.resolveConfig(file);
  writeFileSync(file, await prettier.format(`${tables}\n${notes}`, { ...options, filepath: file }));
}

async function dropDatabases(url: string, names: string[]): Promise<void> {
  const client = new pg.Client(url);
  await client.connect();
  for (const name of names)
    await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)} WITH (FORCE)`);
  await client.end();
}

async function serverVersion(url: string): Promise<string> {
  const client = new pg.Client(url);
  await client.connect();
  const { rows } = await client.query<{ server_version: string }>('SHOW server_version');
  await client.end();
  return rows[0]!.server_version;
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
