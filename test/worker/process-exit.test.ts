import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app';
import { channelFactory } from '../../dev/factories';
import { enqueueJobs } from '../../src/queue/job-queue';
import { testDatabase } from '../support/database';

const root = path.resolve(__dirname, '..', '..');
const db = () => testDatabase().db;
let server: FastifyInstance;
let url: string;

beforeAll(async () => {
  server = await buildApp({ db: db(), logger: false, tokens: [], production: false });
  url = await server.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(() => server.close());

describe('a stopped worker', () => {
  it('lets its process exit on its own: nothing it armed (lease renewals, claims, retries) keeps the event loop alive', async () => {
    // No IPC channel, which would itself keep the child alive: it reports on stdout.
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(root, 'test/support/stopping-worker.ts')],
      {
        env: { ...process.env, API_URL: url },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const lines: string[] = [];
    let stoppedAt = 0;
    createInterface({ input: child.stdout }).on('line', (line) => {
      lines.push(line);
      if (line === 'stopped') stoppedAt = performance.now();
    });
    const exited = once(child, 'exit');
    const channel = await channelFactory.create();
    const [job] = await enqueueJobs(db(), [
      { jobType: 'channel_discovery', entityType: 'channel', entityId: channel.id },
    ]);
    const [code] = (await exited) as [number];
    const lingeredMs = performance.now() - stoppedAt;
    expect(code).toBe(0);
    expect(lines).toEqual([`started ${job!.id}`, 'stopped']);
    expect(await db()('processing_jobs').where({ id: job!.id }).first()).toMatchObject({
      status: 'completed',
    });
    // The lease keeper's next renewal was due 20 seconds after the claim, and a claim waits up to 20 seconds: a
    // timer or request of either left behind holds the process that long. An exit takes milliseconds.
    expect(lingeredMs).toBeLessThan(5_000);
  }, 60_000);
});
