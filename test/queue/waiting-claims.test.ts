import { claimJobsInput } from '../../src/schemas/processing-job';
import { once } from 'node:events';
import net, { type AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app';
import { createClient } from '../../src/client';
import { JobWakeups } from '../../src/queue/wakeups';
import { processingJobFactory, videoFactory } from '../../dev/factories';
import { claimJobs, completeJob, enqueueJobs, releaseJob } from '../../src/queue/job-queue';
import { setJobTypeLimit } from '../../src/services/job-types';
import { testDatabase } from '../support/database';
import { until } from '../support/until';

const db = () => testDatabase().db;
let wakeups: JobWakeups;
let server: FastifyInstance;
let url: string;

beforeAll(async () => {
  wakeups = new JobWakeups(testDatabase().url);
  server = await buildApp({ db: db(), logger: false, tokens: [], production: false });
  url = await server.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  await wakeups.close();
  await server.close();
});
// Claims take any runnable job of the database: each test starts from an empty queue.
beforeEach(async () => {
  await db()('processing_jobs').delete();
});

/** Long enough that a claim returning before half of it has passed was woken, not timed out. */
const longWaitMs = 20_000;

/** The server processes of the connections listening for claimable jobs. */
const listeners = async () =>
  (
    await db().raw<{ rows: { pid: number }[] }>(
      `SELECT pid FROM pg_stat_activity
        WHERE datname = current_database() AND query = 'LISTEN processing_jobs_claimable' AND state = 'idle'`,
    )
  ).rows.map((row) => row.pid);
/** Until a connection other than `known` listens for claimable jobs: a notification sent after that reaches it. */
const listening = (known: number[] = []) =>
  until(async () => (await listeners()).some((pid) => !known.includes(pid)));

const waiting = (waitMs: number) => {
  const started = performance.now();
  return claimJobs(db(), claimJobsInput.parse({ workerId: 'waiter', waitMs }), wakeups).then((jobs) => ({
    jobs,
    ms: performance.now() - started,
  }));
};

/**
 * Resolves once a claim has found nothing it may take and read when the next job falls due: from then on it waits,
 * and only a notification wakes it early. Set up before the claim starts, with the wake-ups already listening (a
 * new connection wakes every waiter, and the claim would look again).
 */
const lookedWhenNext = () =>
  new Promise<void>((resolve) => {
    const read = (_response: unknown, { sql }: { sql: string }) => {
      if (!sql.includes('least(')) return;
      db().off('query-response', read);
      resolve();
    };
    db().on('query-response', read);
  });

describe('a claim that waits for work', () => {
  it('returns as soon as a job is enqueued, not at the end of its wait', async () => {
    const video = await videoFactory.create();
    expect(await wakeups.listening()).toBe(true);
    const looked = lookedWhenNext();
    const claim = waiting(longWaitMs);
    await looked;
    const [job] = await enqueueJobs(db(), [
      { jobType: 'transcript_extraction', entityType: 'video', entityId: video.id },
    ]);
    const { jobs, ms } = await claim;
    expect(jobs.map((claimed) => claimed.id)).toEqual([job!.id]);
    expect(ms).toBeLessThan(longWaitMs / 2);
  });

  it('returns empty at the end of its wait when nothing comes', async () => {
    const { jobs, ms } = await waiting(400);
    expect(jobs).toEqual([]);
    expect(ms).toBeGreaterThanOrEqual(390);
    // Not waiting on for a recheck or a notification that never comes.
    expect(ms).toBeLessThan(longWaitMs / 2);
  });

  it('wakes when a job of a type at its running limit finishes, before its next look a second later', async () => {
    await setJobTypeLimit(db(), { jobType: 'transcript_extraction', maxRunning: 1 });
    try {
      const running = await processingJobFactory
        .trait('running')
        .create({ leaseExpiresAt: new Date(Date.now() + 60_000) });
      const queued = await processingJobFactory.create();
      expect(await wakeups.listening()).toBe(true);
      const looked = lookedWhenNext();
      const claim = waiting(longWaitMs);
      await looked;
      const completed = performance.now();
      await completeJob(db(), { id: running.id, leaseToken: running.leaseToken! });
      expect((await claim).jobs.map((job) => job.id)).toEqual([queued.id]);
      // Its job was due all along, so without a notification it would look again only a second later.
      expect(performance.now() - completed).toBeLessThan(900);
    } finally {
      await setJobTypeLimit(db(), { jobType: 'transcript_extraction', maxRunning: null });
    }
  });

  it('asks the database once at the start of an idle wait and once at its end, not in a loop', async () => {
    const claims: string[] = [];
    const count = ({ sql }: { sql: string }) => {
      if (sql.includes('claim_jobs(')) claims.push(sql);
    };
    db().on('query', count);
    try {
      expect((await waiting(1_500)).jobs).toEqual([]);
    } finally {
      db().off('query', count);
    }
    expect(claims).toHaveLength(2);
  });

  it('takes a retry when it falls due, and a lease when it runs out, with no notification', async () => {
    // Each claim is timed against when its job falls due, not from after the write, which a loaded machine may slow.
    const dueAt = Date.now() + 600;
    const due = await processingJobFactory.create({ runAfter: new Date(dueAt) });
    const first = await waiting(5_000);
    expect(first.jobs.map((job) => job.id)).toEqual([due.id]);
    expect(Date.now()).toBeGreaterThanOrEqual(dueAt);

    const expiresAt = Date.now() + 600;
    await db()('processing_jobs')
      .where({ id: due.id })
      .update({ lease_expires_at: new Date(expiresAt) });
    const second = await waiting(5_000);
    expect(second.jobs).toMatchObject([{ id: due.id, attempts: 2 }]);
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt);
  });

  it('stops waiting when its HTTP caller goes away, and leaves later jobs to others', async () => {
    const controller = new AbortController();
    const api = createClient({ url });
    const gone = api.jobs.claim.mutate({ workerId: 'gone', waitMs: 10_000 }, { signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 300));
    controller.abort();
    await expect(gone).rejects.toThrow();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const job = await processingJobFactory.create();
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await db()('processing_jobs').where({ id: job.id }).first()).toMatchObject({ status: 'queued' });
  });

  /** Waits for the job to be queued again, then holds that no attempt was spent and no lease is left. */
  const releasedUnspent = async (id: string) => {
    const row = () => db()('processing_jobs').where({ id }).first();
    await until(async () => (await row()).status === 'queued');
    expect(await row()).toMatchObject({ attempts: 0, locked_by: null, lease_token: null });
  };

  it('releases, unspent, what it leased for a caller that went away while the claim ran', async () => {
    const job = await processingJobFactory.create();
    const controller = new AbortController();
    controller.abort();
    expect(
      await claimJobs(db(), claimJobsInput.parse({ workerId: 'gone' }), wakeups, controller.signal),
    ).toEqual([]);
    await releasedUnspent(job.id);
  });

  it('releases, unspent, what a claim leased for an HTTP caller that went away while another call of its batch ran', async () => {
    const job = await processingJobFactory.trait('discovery').create();
    const controller = new AbortController();
    // Any tRPC client may batch a claim with other calls; the response waits for the slowest of them, here a claim
    // waiting for a type with no work.
    const batch = fetch(`${url}/trpc/jobs.claim,jobs.claim?batch=1`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        0: { json: { workerId: 'gone', jobTypes: ['channel_discovery'] } },
        1: { json: { workerId: 'gone', jobTypes: ['transcript_extraction'], waitMs: 10_000 } },
      }),
      signal: controller.signal,
    });
    await until(
      async () => (await db()('processing_jobs').where({ id: job.id }).first()).status === 'running',
    );
    controller.abort();
    await expect(batch).rejects.toThrow();
    await releasedUnspent(job.id);
  });

  it('releases, unspent, what it leased for a caller that goes away before the response is written', async () => {
    const job = await processingJobFactory.create();
    const controller = new AbortController();
    const claimed = await claimJobs(
      db(),
      claimJobsInput.parse({ workerId: 'gone' }),
      wakeups,
      controller.signal,
    );
    expect(claimed.map((each) => each.id)).toEqual([job.id]);
    controller.abort();
    await releasedUnspent(job.id);
  });
});

describe('a waiting claim with jobs falling due at different times', () => {
  const waitMs = 20_000;
  // Half the wait: a claim that slept until one of these instead of the earliest would return that late.
  const laterMs = 10_000;
  const fallingDue = {
    'a retry': (at: Date) => processingJobFactory.trait('retrying').create({ runAfter: at }),
    'a lease running out': (at: Date) => processingJobFactory.trait('running').create({ leaseExpiresAt: at }),
    'a lease running out on its last attempt': (at: Date) =>
      processingJobFactory.trait('running').create({ attempts: 3, maxAttempts: 3, leaseExpiresAt: at }),
  };
  /** One job of every kind falling due at `at`, so whichever the claim mistook for the next, it is this late. */
  const everyKindAt = (at: Date) => Promise.all(Object.values(fallingDue).map((make) => make(at)));

  for (const kind of ['a retry', 'a lease running out'] as const) {
    it(`wakes for the earliest, ${kind}, not for the later jobs of every kind`, async () => {
      const early = await fallingDue[kind](new Date(Date.now() + 1_000));
      const later = new Date(Date.now() + laterMs);
      await everyKindAt(later);
      const { jobs } = await waiting(waitMs);
      expect(jobs.map((job) => job.id)).toEqual([early.id]);
      expect(Date.now()).toBeLessThan(later.getTime());
    });
  }

  it('wakes for the earliest, a lease running out on its last attempt, and fails that job while it waits on', async () => {
    const early = await fallingDue['a lease running out on its last attempt'](new Date(Date.now() + 1_000));
    const later = new Date(Date.now() + laterMs);
    await everyKindAt(later);
    const controller = new AbortController();
    const claim = claimJobs(
      db(),
      claimJobsInput.parse({ workerId: 'waiter', waitMs }),
      wakeups,
      controller.signal,
    );
    await until(
      async () => (await db()('processing_jobs').where({ id: early.id }).first()).status === 'failed',
    );
    expect(Date.now()).toBeLessThan(later.getTime());
    controller.abort();
    expect(await claim).toEqual([]);
  });
});

describe('the listening connection', () => {
  it('wakes the waiting claims when it is lost, and listens again on the next wait', async () => {
    const listener = new JobWakeups(testDatabase().url);
    const others = await listeners();
    const seen = listener.seen();
    const waiting = listener.waitAfter(seen, Date.now() + longWaitMs, undefined);
    await listening(others);
    const lost = await listeners();
    await db().raw(`SELECT pg_terminate_backend(pid) FROM unnest(?::integer[]) AS pid`, [lost]);
    const started = performance.now();
    await waiting;
    expect(performance.now() - started).toBeLessThan(longWaitMs / 2);
    // Listening again: an enqueue wakes the next wait.
    const next = listener.seen();
    const again = listener.waitAfter(next, Date.now() + longWaitMs, undefined);
    await listening(lost);
    const enqueued = performance.now();
    await processingJobFactory.create();
    await again;
    expect(performance.now() - enqueued).toBeLessThan(longWaitMs / 2);
    expect(listener.seen()).toBeGreaterThan(next);
    await listener.close();
    expect(listener.closed).toBe(true);
  });
});

describe('a wait ended without a notification', () => {
  it('ends at once when its caller already went away', async () => {
    const controller = new AbortController();
    controller.abort();
    const started = performance.now();
    await wakeups.waitAfter(wakeups.seen(), Date.now() + longWaitMs, controller.signal);
    expect(performance.now() - started).toBeLessThan(longWaitMs / 2);
  });

  it('ends at once when the wake-ups were closed, as a stopping server’s are', async () => {
    const closed = new JobWakeups(testDatabase().url);
    await closed.close();
    const started = performance.now();
    await closed.waitAfter(closed.seen(), Date.now() + longWaitMs, undefined);
    expect(performance.now() - started).toBeLessThan(longWaitMs / 2);
  });

  it('ends when its caller goes away while it waits', async () => {
    expect(await wakeups.listening()).toBe(true);
    const controller = new AbortController();
    const started = performance.now();
    const waiting = wakeups.waitAfter(wakeups.seen(), Date.now() + longWaitMs, controller.signal);
    await new Promise(setImmediate);
    controller.abort();
    await waiting;
    expect(performance.now() - started).toBeLessThan(longWaitMs / 2);
  });

  it('ends the waits in progress when the wake-ups close', async () => {
    const closing = new JobWakeups(testDatabase().url);
    expect(await closing.listening()).toBe(true);
    const started = performance.now();
    const waiting = closing.waitAfter(closing.seen(), Date.now() + longWaitMs, undefined);
    // The wait has begun: it no longer looks at whether the wake-ups are closed.
    await new Promise(setImmediate);
    await closing.close();
    await waiting;
    expect(performance.now() - started).toBeLessThan(longWaitMs / 2);
  });
});

describe('opening the listening connection', () => {
  it('ends a wait begun before it opened, since notifications sent while none listened are lost', async () => {
    const listener = new JobWakeups(testDatabase().url);
    const seen = listener.seen();
    const started = performance.now();
    try {
      await listener.waitAfter(seen, Date.now() + longWaitMs, undefined);
    } finally {
      await listener.close();
    }
    expect(performance.now() - started).toBeLessThan(longWaitMs / 2);
    expect(listener.seen()).toBeGreaterThan(seen);
  });

  it('leaves no connection listening when closed while the connection opens', async () => {
    const others = await listeners();
    const listener = new JobWakeups(testDatabase().url);
    const opening = listener.listening();
    await listener.close();
    expect(await opening).toBe(false);
    await until(async () => (await listeners()).every((pid) => others.includes(pid)));
  });

  it('tries a refused connection again in the background, each pause twice the one before', async () => {
    // A server that takes each connection and drops it at once, as a database restarting does.
    const attempts: number[] = [];
    const refusing = net.createServer((socket) => {
      attempts.push(performance.now());
      socket.destroy();
    });
    refusing.listen(0, '127.0.0.1');
    await once(refusing, 'listening');
    const { port } = refusing.address() as AddressInfo;
    const listener = new JobWakeups(`postgres://postgres@127.0.0.1:${port}/postgres`);
    try {
      expect(await listener.listening()).toBe(false);
      // 200, 400 and 800 ms: a pause of 5 s (the cap) from the first would not get there.
      await until(() => attempts.length >= 4, 4_500);
    } finally {
      await listener.close();
      refusing.close();
    }
    const pauses = attempts.slice(1).map((at, index) => at - attempts[index]!);
    expect(pauses[0]).toBeGreaterThanOrEqual(190);
    expect(pauses[1]).toBeGreaterThanOrEqual(390);
    expect(pauses[2]).toBeGreaterThanOrEqual(790);
  });

  it('listens again soon after losing an open connection, however many attempts failed before it opened', async () => {
    // The first four connections dropped, as a database restarting does, then passed through; the test drops the
    // one passed through.
    const restarting = await databaseProxy((attempt) => attempt > 4);
    const listener = new JobWakeups(restarting.url);
    try {
      expect(await listener.listening()).toBe(false);
      // Refused four times (pauses of 200, 400, 800 and 1,600 ms), then open: its first wake-up.
      await until(() => listener.seen() === 1, 6_000);
      const lostAt = performance.now();
      restarting.passed[0]!.destroy();
      await until(() => restarting.attempts.length >= 6, 4_000);
      // The pause after a connection that was open is the first one, 100 ms, not the 1.6 s four failures lead to.
      expect(restarting.attempts[5]! - lostAt).toBeLessThan(1_000);
    } finally {
      await listener.close();
      await restarting.close();
    }
  });

  it('wakes the waiting claims at once when its connection is lost and cannot be opened again', async () => {
    // The first connection passed through, every later one dropped: a database that went away.
    const gone = await databaseProxy((attempt) => attempt === 1);
    const listener = new JobWakeups(gone.url);
    try {
      const seen = listener.seen();
      const waiting = listener.waitAfter(seen, Date.now() + longWaitMs, undefined);
      await until(() => listener.seen() > seen);
      const next = listener.seen();
      const again = listener.waitAfter(next, Date.now() + longWaitMs, undefined);
      const lostAt = performance.now();
      gone.passed[0]!.destroy();
      await Promise.all([waiting, again]);
      // Woken by the loss itself: no connection opens again to wake it.
      expect(performance.now() - lostAt).toBeLessThan(longWaitMs / 2);
      expect(listener.seen()).toBeGreaterThan(next);
      expect(await listener.listening()).toBe(false);
    } finally {
      await listener.close();
      await gone.close();
    }
  });
});

/**
 * A TCP server in front of the test database that passes through the connections `pass` picks by their place (1
 * for the first) and drops the others at once; `passed` are the client sides of those it passed.
 */
async function databaseProxy(pass: (attempt: number) => boolean) {
  const database = new URL(testDatabase().url);
  const attempts: number[] = [];
  const passed: net.Socket[] = [];
  const server = net.createServer((socket) => {
    attempts.push(performance.now());
    if (!pass(attempts.length)) return void socket.destroy();
    const upstream = net.connect(Number(database.port || 5432), database.hostname);
    for (const [from, to] of [
      [socket, upstream],
      [upstream, socket],
    ] as const) {
      from.pipe(to);
      from.on('error', () => to.destroy());
      from.on('close', () => to.destroy());
    }
    passed.push(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = new URL(database);
  url.host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: url.toString(),
    attempts,
    passed,
    close: async () => {
      for (const socket of passed) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe('releasing a claimed job', () => {
  it('queues it again at once, its attempt not spent and its video queued, for any worker', async () => {
    const video = await videoFactory.create();
    await enqueueJobs(db(), [{ jobType: 'transcript_extraction', entityType: 'video', entityId: video.id }]);
    const [claimed] = await claimJobs(db(), claimJobsInput.parse({ workerId: 'stopping' }));
    expect(claimed).toMatchObject({ attempts: 1 });
    const released = await releaseJob(db(), { id: claimed!.id, leaseToken: claimed!.leaseToken! });
    expect(released).toMatchObject({ status: 'queued', attempts: 0, leaseExpiresAt: null, lockedBy: null });
    expect((await db()('videos').where({ id: video.id }).first()).status).toBe('queued');
    const [again] = await claimJobs(db(), claimJobsInput.parse({ workerId: 'next' }));
    expect(again).toMatchObject({ id: claimed!.id, attempts: 1, lockedBy: 'next' });
    await expect(
      releaseJob(db(), { id: claimed!.id, leaseToken: claimed!.leaseToken! }),
    ).rejects.toMatchObject({
      field: 'leaseToken',
    });
  });
});
