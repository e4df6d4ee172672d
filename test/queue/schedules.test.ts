import { claimJobsInput } from '../../src/schemas/processing-job';
import type { Knex } from 'knex';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { parseConfig, schedulerSettings } from '../../src/config';
import { connect } from '../../src/db/connect';
import { channelFactory, processingJobFactory } from '../../dev/factories';
import type { Channel } from '../../src/schemas/channel';
import { type Scheduler, startScheduler } from '../../src/queue/scheduler';
import { claimJobs, completeJob, enqueueJobs } from '../../src/queue/job-queue';
import { enqueueDueDiscoveries } from '../../src/queue/schedules';
import { useApi } from '../support/api';
import { testDatabase, testPoolSettings } from '../support/database';
import { until } from '../support/until';

const db = () => testDatabase().db;
const api = useApi();
const hour = 3_600_000;
const quiet = { info: () => undefined, error: () => undefined };

// Schedules look at every channel of the database: each test starts from none.
beforeEach(async () => {
  await db()('channels').delete();
});

const hoursAgo = (hours: number) => new Date(Date.now() - hours * hour);
const scheduled = (overrides: Partial<Channel> = {}) =>
  channelFactory.create({ processingConfig: { discoverEveryHours: 24 }, ...overrides });
const discoveryJobs = () =>
  db()('processing_jobs').where({ job_type: 'channel_discovery' }).orderBy('entity_id').pluck('entity_id');

describe('channel schedules', () => {
  it('enqueue one discovery for each due, active channel, and none for the others', async () => {
    const due = [
      await scheduled({ lastCheckedAt: null }),
      await scheduled({ lastCheckedAt: hoursAgo(24.01) }),
      await scheduled({ lastCheckedAt: hoursAgo(2), processingConfig: { discoverEveryHours: 1 } }),
    ];
    await scheduled({ lastCheckedAt: hoursAgo(23.99) });
    await scheduled({ status: 'paused' });
    await scheduled({ status: 'inactive' });
    const unscheduled = await channelFactory.create({ lastCheckedAt: null });
    await db()('channels').where({ id: unscheduled.id }).update({ processing_config: {} });
    const alreadyQueued = await scheduled();
    await enqueueJobs(db(), [
      { jobType: 'channel_discovery', entityType: 'channel', entityId: alreadyQueued.id },
    ]);

    const jobs = await enqueueDueDiscoveries(db(), 100);
    expect(jobs.map((job) => job.entityId).sort()).toEqual(due.map((channel) => channel.id).sort());
    expect(jobs.every((job) => job.status === 'queued' && job.metadata.scheduled === true)).toBe(true);
    expect(await enqueueDueDiscoveries(db(), 100)).toEqual([]);
  });

  it('take the channels that fell due first, a batch at a time (edge: a batch of one)', async () => {
    // The longer overdue, the later in id order: taking channels in id order instead would show.
    const [thirty, forty, fifty] = (await Promise.all([1, 2, 3].map(() => scheduled()))).sort((a, b) =>
      a.id < b.id ? -1 : 1,
    );
    for (const [channel, hours] of [
      [thirty, 30],
      [forty, 40],
      [fifty, 50],
    ] as const)
      await db()('channels')
        .where({ id: channel!.id })
        .update({ last_checked_at: hoursAgo(hours) });
    expect((await enqueueDueDiscoveries(db(), 1)).map((job) => job.entityId)).toEqual([fifty!.id]);
    expect((await enqueueDueDiscoveries(db(), 1)).map((job) => job.entityId)).toEqual([forty!.id]);
    expect((await enqueueDueDiscoveries(db(), 2)).map((job) => job.entityId)).toEqual([thirty!.id]);
  });

  it('move the next discovery a period on when it is enqueued, and set it from the real check on completion', async () => {
    const channel = await scheduled({ lastCheckedAt: hoursAgo(30) });
    expect((await api.query<Channel>('channels.get', { id: channel.id })).data.nextDiscoveryAt).toEqual(
      new Date(channel.lastCheckedAt!.getTime() + 24 * hour),
    );
    await enqueueDueDiscoveries(db(), 10);
    const moved = (await api.query<Channel>('channels.get', { id: channel.id })).data;
    expect(Math.abs(moved.nextDiscoveryAt!.getTime() - (Date.now() + 24 * hour))).toBeLessThan(60_000);

    const [claimed] = await claimJobs(db(), claimJobsInput.parse({ workerId: 'w', limit: 1 }));
    await completeJob(db(), { id: claimed!.id, leaseToken: claimed!.leaseToken!, result: null });
    const checked = (await api.query<Channel>('channels.get', { id: channel.id })).data;
    expect(checked.nextDiscoveryAt).toEqual(new Date(checked.lastCheckedAt!.getTime() + 24 * hour));
  });

  it('follow a changed period, and drop the schedule with the setting', async () => {
    const channel = await scheduled({ lastCheckedAt: hoursAgo(1) });
    const every2 = await api.mutate<Channel>('channels.update', {
      id: channel.id,
      processingConfig: { discoverEveryHours: 0.5 },
    });
    expect(every2.data.nextDiscoveryAt).toEqual(new Date(channel.lastCheckedAt!.getTime() + 0.5 * hour));
    const none = await api.mutate<Channel>('channels.update', { id: channel.id, processingConfig: {} });
    expect(none.data.nextDiscoveryAt).toBeNull();
  });

  it('reject a period outside 0.01 to 8,760 hours, naming the field, and accept both ends', async () => {
    for (const hours of [0.01, 8_760]) {
      const ok = await api.mutate('channels.update', {
        id: (await scheduled()).id,
        processingConfig: { discoverEveryHours: hours },
      });
      expect(ok.status, String(hours)).toBe(200);
    }
    const channel = await scheduled();
    for (const hours of [0.009, 8_760.01, '24', null]) {
      const rejected = await api.mutate('channels.update', {
        id: channel.id,
        processingConfig: { discoverEveryHours: hours },
      });
      expect(rejected.status, String(hours)).toBe(400);
      expect(rejected.error?.data.field).toBe('processingConfig.discoverEveryHours');
    }
  });
});

describe('the scheduler', () => {
  it('is configured from the environment, and off with an interval of 0', () => {
    expect(schedulerSettings(parseConfig({}))).toEqual({
      intervalMs: 60_000,
      batchSize: 500,
      retentionDays: 14,
    });
    expect(
      schedulerSettings(
        parseConfig({ SCHEDULER_INTERVAL_SECONDS: '0', SCHEDULER_BATCH_SIZE: '10', JOB_RETENTION_DAYS: '2' }),
      ),
    ).toEqual({ intervalMs: 0, batchSize: 10, retentionDays: 2 });
    expect(() => parseConfig({ SCHEDULER_BATCH_SIZE: '0' })).toThrow(/SCHEDULER_BATCH_SIZE/);
  });

  it('ticks at start and on its interval, logs what it did, and stops between ticks', async () => {
    const lines: object[] = [];
    const scheduler = startScheduler({
      db: db(),
      intervalMs: 50,
      batchSize: 10,
      retentionDays: 14,
      log: { info: (details) => lines.push(details), error: () => undefined },
    });
    await scheduled();
    await until(() => lines.length > 0);
    await scheduler.stop();
    expect(lines).toEqual([{ enqueued: 1, pruned: 0 }]);
    const after = await discoveryJobs();
    await scheduled();
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(await discoveryJobs()).toEqual(after);
  });
});

describe('a scheduler tick that only prunes', () => {
  it('logs what it pruned', async () => {
    const checkedNow = await scheduled({ lastCheckedAt: new Date() });
    await processingJobFactory
      .trait('discovery', 'completed')
      .create({ entityId: checkedNow.id, completedAt: new Date(Date.now() - 20 * 24 * hour) });
    const lines: object[] = [];
    const scheduler = startScheduler({
      db: db(),
      intervalMs: 60_000,
      batchSize: 10,
      retentionDays: 14,
      log: { info: (details) => lines.push(details), error: () => undefined },
    });
    await scheduler.stop();
    expect(lines).toEqual([{ enqueued: 0, pruned: 1 }]);
  });
});

describe('a scheduler stopped during a tick', () => {
  it('finishes that tick and starts no other', async () => {
    const scheduler = startScheduler({
      db: db(),
      intervalMs: 20,
      batchSize: 10,
      retentionDays: 14,
      log: quiet,
    });
    // The tick at start is under way.
    await scheduler.stop();
    await scheduled();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await discoveryJobs()).toEqual([]);
  });
});

describe('a scheduler whose database goes away for a while', () => {
  let admin: pg.Client;
  let database: string;
  const application = 'scheduler-under-outage';

  // The outage is switched from another database: while it lasts, no new connection reaches the test's own.
  beforeAll(async () => {
    admin = new pg.Client({ connectionString: inject('serverUrl') });
    await admin.connect();
    database = admin.escapeIdentifier(new URL(testDatabase().url).pathname.slice(1));
  });
  afterAll(async () => {
    await admin.query(`ALTER DATABASE ${database} ALLOW_CONNECTIONS true`);
    await admin.end();
  });

  it('keeps ticking through the failed ticks, and enqueues and prunes again once it is back', async () => {
    const url = new URL(testDatabase().url);
    url.searchParams.set('application_name', application);
    const own = connect(url.toString(), { ...testPoolSettings, DATABASE_POOL_SIZE: 2 });
    const ticks: object[] = [];
    const failures: unknown[] = [];
    const scheduler = startScheduler({
      db: own,
      intervalMs: 50,
      batchSize: 10,
      retentionDays: 14,
      log: {
        info: (details) => ticks.push(details),
        error: ({ err }: { err?: unknown }) => failures.push(err),
      },
    });
    try {
      await scheduled();
      await until(() => ticks.length === 1);
      expect(ticks).toEqual([{ enqueued: 1, pruned: 0 }]);

      await admin.query(`ALTER DATABASE ${database} ALLOW_CONNECTIONS false`);
      await admin.query(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1',
        [application],
      );
      // Two failed ticks in a row: the first one's failure scheduled the next.
      await until(() => failures.length >= 2);
      // Each logged with the error that failed it.
      expect(failures.every((failure) => failure instanceof Error)).toBe(true);
      await admin.query(`ALTER DATABASE ${database} ALLOW_CONNECTIONS true`);

      const due = await scheduled();
      const finished = await processingJobFactory
        .trait('discovery', 'completed')
        .create({ entityId: due.id, completedAt: new Date(Date.now() - 20 * 24 * hour) });
      // In one tick or two: one may run between the two writes above.
      const sinceBack = () =>
        (ticks.slice(1) as { enqueued: number; pruned: number }[]).reduce(
          (sum, tick) => ({ enqueued: sum.enqueued + tick.enqueued, pruned: sum.pruned + tick.pruned }),
          { enqueued: 0, pruned: 0 },
        );
      await until(() => sinceBack().enqueued >= 1 && sinceBack().pruned >= 1);
      expect(sinceBack()).toEqual({ enqueued: 1, pruned: 1 });
      expect(await discoveryJobs()).toContain(due.id);
      expect(await db()('processing_jobs').where({ id: finished.id })).toEqual([]);
    } finally {
      await scheduler.stop();
      await own.destroy();
    }
  });
});

describe('schedulers racing', () => {
  let pool: Knex;

  // A connection for each scheduler's statements, so they really run side by side.
  beforeAll(() => {
    pool = connect(testDatabase().url, { ...testPoolSettings, DATABASE_POOL_SIZE: 8 });
  });
  afterAll(() => pool.destroy());

  it('enqueue exactly one job per due channel when three run at once', async () => {
    for (let round = 0; round < 3; round += 1) {
      await db()('channels').delete();
      const channels = await channelFactory.createList(300, {
        processingConfig: { discoverEveryHours: 6 },
        lastCheckedAt: hoursAgo(7),
      });
      let enqueued = 0;
      const log = { ...quiet, info: (tick: { enqueued?: number }) => (enqueued += tick.enqueued ?? 0) };
      // Each ticks at start; a second tick each, queued behind the first, finds nothing left.
      const schedulers: Scheduler[] = Array.from({ length: 3 }, () =>
        startScheduler({ db: db(), intervalMs: 60_000, batchSize: 20, retentionDays: 14, log }),
      );
      const seconds = await Promise.all(schedulers.map((scheduler) => scheduler.tick()));
      await Promise.all(schedulers.map((scheduler) => scheduler.stop()));

      expect(await discoveryJobs()).toEqual(channels.map((channel) => channel.id).sort());
      expect(enqueued, `round ${round}: the ticks' own count`).toBe(300);
      expect(seconds.map((tick) => tick.enqueued)).toEqual([0, 0, 0]);
    }
  });
});
