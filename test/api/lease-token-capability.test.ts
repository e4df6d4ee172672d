import superjson from 'superjson';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { type Role, roles } from '../../src/api/access';
import { responseDates, type WireOutput } from '../../src/api/wire-format';
import { restProcedures } from '../../src/http/procedures';
import { processingSessionFactory, videoFactory } from '../../dev/factories';
import type { ClaimedJob, CompleteJobsResult, ProcessingJob } from '../../src/schemas/processing-job';
import { useApi } from '../support/api';
import { testDatabase } from '../support/database';

/*
 * A lease token is a capability: whoever reads it can heartbeat, complete or fail the job as its worker. These
 * tests read the bytes each transport sends and look for the token's value, not only for a `leaseToken` key.
 */

const tokens: Record<Role, string> = {
  reader: 'lease-reader-token-0123456789',
  worker: 'lease-worker-token-0123456789',
  admin: 'lease-admin-token-0123456789',
};
const api = useApi({ tokens: roles.map((role) => ({ role, token: tokens[role] })) });

const transports = ['trpc', 'rest'] as const;
type Transport = (typeof transports)[number];

interface Sent<T> {
  status: number;
  /** The response's body as sent. */
  text: string;
  /** The body read back: the typed client's data over tRPC, plain JSON over REST; undefined for an error. */
  data: T;
}

type Input = Record<string, unknown>;

/** A query string as the REST routes read it: an array as its field repeated. */
function queryString(input: Input): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(input)) {
    for (const item of Array.isArray(value) ? value : [value]) params.append(key, String(item));
  }
  return params.size > 0 ? `?${params.toString()}` : '';
}

/** Calls a procedure as `role`, over tRPC as the typed client does or at its REST route. */
async function call<T = unknown>(
  transport: Transport,
  role: Role,
  name: string,
  input: Input = {},
): Promise<Sent<T>> {
  const entry = restProcedures.get(name)!;
  const server = api.app.server;
  const auth = { authorization: `Bearer ${tokens[role]}` };
  if (transport === 'trpc') {
    const encoded = superjson.serialize(input);
    const response =
      entry.type === 'query'
        ? await request(server)
            .get(`/trpc/${name}?input=${encodeURIComponent(JSON.stringify(encoded))}`)
            .set(auth)
        : await request(server).post(`/trpc/${name}`).set(auth).send(encoded);
    const result = (response.body as { result?: { data: WireOutput } }).result;
    return {
      status: response.status,
      text: response.text,
      data: (result ? responseDates.deserialize(result.data) : undefined) as T,
    };
  }
  const { method, path } = entry.route!;
  const rest = { ...input };
  const url = `/api${path.replace(/\{(\w+)\}/g, (_, key: string) => {
    const value = String(rest[key]);
    delete rest[key];
    return value;
  })}`;
  const http = request(server);
  const response = await (
    method === 'GET'
      ? http.get(url + queryString(rest))
      : method === 'DELETE'
        ? http.delete(url + queryString(rest))
        : method === 'PATCH'
          ? http.patch(url).send(rest)
          : http.post(url).send(rest)
  ).set(auth);
  return {
    status: response.status,
    text: response.text,
    data: (response.status === 200 ? JSON.parse(response.text) : undefined) as T,
  };
}

/** Every token issued in this file, so each response is searched for all of them. */
const issued = new Set<string>();

/** Checks that a response carries no lease token: no value ever issued, and, for a success, no such field. */
function expectNoToken(sent: Sent<unknown>, what: string): void {
  for (const token of issued) expect(sent.text, what).not.toContain(token);
  if (sent.status === 200) expect(sent.text, what).not.toContain('leaseToken');
}

/** Claims as `workerId` until `jobId` is among the jobs it got (jobs of this file run at the top priority). */
async function claim(jobId: string, workerId: string, transport: Transport = 'trpc'): Promise<ClaimedJob> {
  const claimed = await call<ClaimedJob[]>(transport, 'worker', 'jobs.claim', {
    workerId,
    limit: 100,
    leaseSeconds: 300,
  });
  expect(claimed.status).toBe(200);
  const job = claimed.data.find((candidate) => candidate.id === jobId);
  if (!job) throw new Error(`job ${jobId} was not claimed`);
  // The claim is the one response that carries the token, as its bytes show.
  expect(claimed.text).toContain(job.leaseToken);
  issued.add(job.leaseToken);
  return job;
}

/** A transcript job about a new video, in a running session of its own, enqueued by a worker. */
async function enqueued() {
  const session = await processingSessionFactory.trait('running').create();
  const video = await videoFactory.create();
  const job = await call<ProcessingJob>('trpc', 'worker', 'jobs.enqueue', {
    jobType: 'transcript_extraction',
    entityType: 'video',
    entityId: video.id,
    sessionId: session.id,
    priority: 1_000_000,
  });
  expect(job.status).toBe(200);
  return { session, video, job: job.data };
}

/** A job claimed by `workerId`, with its session and video. */
async function claimedBy(workerId: string) {
  const { session, video, job } = await enqueued();
  return { session, video, job: await claim(job.id, workerId) };
}

/** The job's row as stored, every column. */
const stored = (id: string) =>
  testDatabase().db('processing_jobs').where({ id }).first<Record<string, unknown>>();

describe('a lease token', () => {
  it('is shown by no read, list or include of either transport, to any role, which shows only who holds the lease and until when', async () => {
    const { session, video, job } = await claimedBy('worker-a');
    const reads: [string, Input][] = [
      ['jobs.get', { id: job.id }],
      ['jobs.get', { id: job.id, include: ['session', 'channel', 'video'] }],
      ['jobs.list', { sessionId: session.id }],
      ['jobs.list', { status: 'running', include: ['session', 'video'], limit: 100 }],
      ['sessions.jobs', { sessionId: session.id, include: ['session', 'video'] }],
      ['videos.get', { id: video.id, include: ['jobs'] }],
      ['videos.getByYoutubeId', { youtubeVideoId: video.youtubeVideoId, include: ['jobs', 'channel'] }],
      ['videos.list', { channelId: video.channelId, include: ['jobs'] }],
      ['channels.videos', { channelId: video.channelId, include: ['jobs', 'transcripts'] }],
    ];
    for (const transport of transports) {
      for (const role of roles) {
        for (const [name, input] of reads) {
          const what = `${name} ${JSON.stringify(input)} over ${transport} as ${role}`;
          const sent = await call(transport, role, name, input);
          expect(sent.status, what).toBe(200);
          expect(sent.text, what).toContain(job.id);
          expect(sent.text, what).toContain('"lockedBy":"worker-a"');
          expect(sent.text, what).toContain(`"leaseExpiresAt":"${job.leaseExpiresAt!.toISOString()}"`);
          expectNoToken(sent, what);
        }
      }
    }
  });

  it.each(transports)(
    'is shown by no write response over %s: enqueue of an existing job, update, heartbeat, release, fail, retry, requeue, complete, cancel, delete',
    async (transport) => {
      const send = async <T>(role: Role, name: string, input: Input) => {
        const sent = await call<T>(transport, role, name, input);
        expect(sent.status, `${name} as ${role}`).toBe(200);
        expectNoToken(sent, `${name} as ${role}`);
        return sent.data;
      };
      const { video, job } = await claimedBy('worker-a');
      const again = {
        jobType: 'transcript_extraction',
        entityType: 'video',
        entityId: video.id,
      } as const;
      for (const role of ['worker', 'admin'] as const) {
        expect(await send<ProcessingJob>(role, 'jobs.enqueue', again)).toMatchObject({
          id: job.id,
          status: 'running',
        });
        const many = await send<ProcessingJob[]>(role, 'jobs.enqueueMany', { jobs: [again, again] });
        expect(many.map((one) => one.id)).toEqual([job.id, job.id]);
      }
      await send('admin', 'jobs.update', { id: job.id, priority: 999_999, metadata: { note: 'rush' } });
      await send('worker', 'jobs.heartbeat', { id: job.id, leaseToken: job.leaseToken, leaseSeconds: 600 });
      await send('worker', 'jobs.release', { id: job.id, leaseToken: job.leaseToken });

      const second = await claim(job.id, 'worker-a', transport);
      const failed = await send<ProcessingJob>('worker', 'jobs.fail', {
        id: job.id,
        leaseToken: second.leaseToken,
        error: 'transcripts are disabled',
        retryable: false,
      });
      expect(failed.status).toBe('failed');
      await send('admin', 'jobs.retry', { id: job.id });

      await claim(job.id, 'worker-a', transport);
      await send('admin', 'jobs.requeue', { id: job.id, requeuedBy: 'ops', reason: 'its worker is stuck' });

      const fourth = await claim(job.id, 'worker-b', transport);
      await send('worker', 'jobs.complete', { id: job.id, leaseToken: fourth.leaseToken, result: null });

      const { job: many } = await claimedBy('worker-a');
      const done = await send<CompleteJobsResult>('worker', 'jobs.completeMany', {
        jobs: [{ id: many.id, leaseToken: many.leaseToken }],
      });
      expect(done.completed.map((one) => one.id)).toEqual([many.id]);
      await send('admin', 'jobs.cancel', { id: (await claimedBy('worker-a')).job.id });
      await send('admin', 'jobs.delete', { id: (await claimedBy('worker-a')).job.id });
    },
  );

  it.each(transports)(
    'is shown by no error response over %s, even one to a call that sent it',
    async (transport) => {
      const { job } = await claimedBy('worker-a');
      const lease = { id: job.id, leaseToken: job.leaseToken };
      const missing = '00000000-0000-4000-8000-0000000000f1';
      const calls: [string, Role, string, Input, number][] = [
        ['a lease of no seconds', 'worker', 'jobs.heartbeat', { ...lease, leaseSeconds: 0 }, 400],
        ['an empty error', 'worker', 'jobs.fail', { ...lease, error: '' }, 400],
        ['a reader heartbeating', 'reader', 'jobs.heartbeat', lease, 403],
        ['a job that does not exist', 'worker', 'jobs.complete', { ...lease, id: missing }, 404],
        ['a token on a read', 'reader', 'jobs.get', lease, 400],
        ['a token on a requeue', 'admin', 'jobs.requeue', { ...lease, requeuedBy: 'ops', reason: 'x' }, 400],
      ];
      for (const [what, role, name, input, status] of calls) {
        const sent = await call(transport, role, name, input);
        expect(sent.status, what).toBe(status);
        expectNoToken(sent, what);
      }
      const rejected = await call<CompleteJobsResult>(transport, 'worker', 'jobs.completeMany', {
        jobs: [{ id: missing, leaseToken: job.leaseToken }],
      });
      expect(rejected.data.rejected).toEqual([{ id: missing, reason: `job ${missing} not found` }]);
      expectNoToken(rejected, 'a batch completion naming a missing job');
    },
  );

  it('is named by no operation of the OpenAPI document but the claim, in its response', async () => {
    const document = (await request(api.app.server).get('/openapi.json')).body as {
      paths: Record<string, Record<string, { operationId?: string; responses?: unknown }>>;
      components?: { schemas?: unknown };
    };
    const naming = Object.entries(document.paths).flatMap(([path, operations]) =>
      Object.entries(operations)
        .filter(([, operation]) => JSON.stringify(operation.responses ?? {}).includes('leaseToken'))
        .map(([method]) => `${method} ${path}`),
    );
    expect(naming).toEqual(['post /jobs/claim']);
    expect(JSON.stringify(document.components?.schemas ?? {})).not.toContain('leaseToken');
  });
});

describe("another worker's token", () => {
  it.each(transports)(
    'is rejected over %s on a job its worker did not claim: heartbeat, complete, completeMany, fail, release, snooze; the job is unchanged',
    async (transport) => {
      const { job: theirs } = await claimedBy('worker-a');
      const { job: mine } = await claimedBy('worker-b');
      const before = await stored(theirs.id);
      const borrowed = { id: theirs.id, leaseToken: mine.leaseToken };
      const calls: [string, Input][] = [
        ['jobs.heartbeat', { ...borrowed, leaseSeconds: 3_600 }],
        ['jobs.complete', { ...borrowed, result: { wordCount: 1, language: 'en' } }],
        ['jobs.fail', { ...borrowed, error: 'not mine', retryable: false }],
        ['jobs.release', borrowed],
        ['jobs.snooze', { ...borrowed, delaySeconds: 60 }],
      ];
      for (const [name, input] of calls) {
        const sent = await call(transport, 'worker', name, input);
        expect(sent.status, name).toBe(409);
        expect(sent.text, name).toContain('the lease is no longer yours');
      }
      const batch = await call<CompleteJobsResult>(transport, 'worker', 'jobs.completeMany', {
        jobs: [borrowed],
      });
      expect(batch.data).toEqual({
        completed: [],
        rejected: [{ id: theirs.id, reason: 'the lease is no longer yours: the job was claimed again' }],
      });
      const requeue = await call(transport, 'worker', 'jobs.requeue', {
        id: theirs.id,
        requeuedBy: 'worker-b',
        reason: 'I want it',
      });
      expect(requeue.status).toBe(403);
      expect(await stored(theirs.id)).toEqual(before);

      // The lease is still its worker's, and the other worker's own lease still its own.
      for (const job of [theirs, mine]) {
        const done = await call<ProcessingJob>(transport, 'worker', 'jobs.complete', {
          id: job.id,
          leaseToken: job.leaseToken,
        });
        expect(done.status).toBe(200);
      }
    },
  );
});

describe('an admin requeue', () => {
  it.each(transports)(
    'takes a running job from a stuck worker over %s: queued again, who, when and why recorded, its video queued, the stuck worker rejected',
    async (transport) => {
      const { session, video, job } = await claimedBy('stuck-worker');
      const requeued = await call<Record<string, unknown>>(transport, 'admin', 'jobs.requeue', {
        id: job.id,
        requeuedBy: 'ops: Ana',
        reason: 'the worker has not moved in an hour',
      });
      expect(requeued.status).toBe(200);
      expect(requeued.data).toMatchObject({
        id: job.id,
        status: 'queued',
        attempts: 0,
        lockedBy: null,
        lockedAt: null,
        leaseExpiresAt: null,
        requeuedBy: 'ops: Ana',
        requeuedFrom: 'stuck-worker',
        requeueReason: 'the worker has not moved in an hour',
      });
      const requeuedAt = new Date(requeued.data.requeuedAt as string | Date);
      expect(requeuedAt.getTime()).toBeGreaterThanOrEqual(job.lockedAt!.getTime());
      expect(await stored(job.id)).toMatchObject({ lease_token: null, requeued_from: 'stuck-worker' });
      expect((await testDatabase().db('videos').where({ id: video.id }).first()).status).toBe('queued');
      const progress = await call(transport, 'reader', 'sessions.progress', { id: session.id });
      expect(progress.data).toMatchObject({ queued: 1, running: 0 });

      const stuck = { id: job.id, leaseToken: job.leaseToken };
      for (const [name, input] of [
        ['jobs.heartbeat', stuck],
        ['jobs.complete', { ...stuck, result: { wordCount: 3, language: 'en' } }],
        ['jobs.fail', { ...stuck, error: 'woke up' }],
        ['jobs.release', stuck],
        ['jobs.snooze', { ...stuck, delaySeconds: 60 }],
      ] as const) {
        const late = await call(transport, 'worker', name, input);
        expect(late.status, name).toBe(409);
        expect(late.text, name).toContain('the job is queued');
      }

      const next = await claim(job.id, 'healthy-worker', transport);
      expect(next.leaseToken).not.toBe(job.leaseToken);
      const late = await call(transport, 'worker', 'jobs.complete', { ...stuck, result: null });
      expect(late.status).toBe(409);
      const done = await call<Record<string, unknown>>(transport, 'worker', 'jobs.complete', {
        id: job.id,
        leaseToken: next.leaseToken,
        result: { wordCount: 12, language: 'en' },
      });
      expect(done.status).toBe(200);
      expect(done.data).toMatchObject({
        status: 'completed',
        attempts: 1,
        lockedBy: 'healthy-worker',
        requeuedBy: 'ops: Ana',
        requeuedFrom: 'stuck-worker',
      });
    },
  );

  it.each(transports)(
    'is rejected over %s for a job not running, for a reader or a worker, for a missing job and without a reason',
    async (transport) => {
      const { job: running } = await claimedBy('worker-a');
      const { job: queued } = await enqueued();
      const beforeQueued = await stored(queued.id);
      const beforeRunning = await stored(running.id);
      const requeue = (role: Role, id: string, reason = 'stuck') =>
        call<unknown>(transport, role, 'jobs.requeue', { id, requeuedBy: 'ops', reason });

      const notRunning = await requeue('admin', queued.id);
      expect(notRunning.status).toBe(409);
      expect(notRunning.text).toContain('only running jobs can be requeued; this one is queued');
      for (const role of ['reader', 'worker'] as const)
        expect((await requeue(role, running.id)).status, role).toBe(403);
      expect((await requeue('admin', '00000000-0000-4000-8000-0000000000f2')).status).toBe(404);
      expect((await requeue('admin', running.id, '  ')).status).toBe(400);

      expect(await stored(queued.id)).toEqual(beforeQueued);
      expect(await stored(running.id)).toEqual(beforeRunning);
    },
  );
});
