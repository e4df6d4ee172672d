import request from 'supertest';
import type { Knex } from 'knex';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { connect } from '../../src/db/connect';
import type { Page } from '../../src/schemas/pagination';
import type { ClaimedJob, JobTypeSettings } from '../../src/schemas/processing-job';
import type { RateKey } from '../../src/schemas/rate-key';
import { setJobTypeRate, setRateKey } from '../../src/queue/rate-limits';
import { useApi } from '../support/api';
import { testDatabase, testPoolSettings } from '../support/database';
import { after, at, claimAt, queuedDiscoveries, resetFlowControl } from '../support/flow-control';

const db = () => testDatabase().db;
const api = useApi();

beforeEach(() => resetFlowControl(db()));

const egress = 'egress:203.0.113.7';
const start = at('2026-06-01T12:00:00Z');
const keysOf = (jobs: readonly ClaimedJob[]) => jobs.map((job) => job.rateKey).sort();

describe('a start rate per job type', () => {
  it('starts a full bucket at once, then one job each time a token comes back and never before, up to the bucket', async () => {
    await queuedDiscoveries(12);
    await setJobTypeRate(db(), { jobType: 'channel_discovery', maxStarts: 3, perSeconds: 60 });
    expect(await claimAt(db(), start)).toHaveLength(3);
    expect(await claimAt(db(), start)).toEqual([]);
    expect(await claimAt(db(), after(start, 19.999))).toEqual([]);
    expect(await claimAt(db(), after(start, 20))).toHaveLength(1);
    expect(await claimAt(db(), after(start, 60))).toHaveLength(2);
    expect(await claimAt(db(), after(start, 3_600))).toHaveLength(3);
  });

  it('is lifted with null, and holds back no other type', async () => {
    await queuedDiscoveries(3);
    await setJobTypeRate(db(), { jobType: 'transcript_extraction', maxStarts: 1, perSeconds: 60 });
    expect(await claimAt(db(), start, 10, ['channel_discovery'])).toHaveLength(3);
    await queuedDiscoveries(3);
    await setJobTypeRate(db(), { jobType: 'channel_discovery', maxStarts: 1, perSeconds: 60 });
    expect(await claimAt(db(), start)).toHaveLength(1);
    await setJobTypeRate(db(), { jobType: 'channel_discovery', maxStarts: null });
    expect(await claimAt(db(), start)).toHaveLength(2);
  });
});

describe('a start rate per key', () => {
  it("limits the key's jobs the same way and leaves other keys alone", async () => {
    await queuedDiscoveries(5, { rateKey: egress });
    await queuedDiscoveries(3, { rateKey: 'egress:198.51.100.9' });
    await setRateKey(db(), { key: egress, maxStarts: 2, perSeconds: 10 });
    expect(keysOf(await claimAt(db(), start))).toEqual([
      'egress:198.51.100.9',
      'egress:198.51.100.9',
      'egress:198.51.100.9',
      egress,
      egress,
    ]);
    expect(await claimAt(db(), after(start, 4.999))).toEqual([]);
    expect(keysOf(await claimAt(db(), after(start, 5)))).toEqual([egress]);
    expect(keysOf(await claimAt(db(), after(start, 60)))).toEqual([egress, egress]);
  });
});

describe('a key out of tokens', () => {
  it("holds back none of another key's jobs, even in a claim of one", async () => {
    await queuedDiscoveries(2, { rateKey: egress, priority: 5 });
    const [other] = await queuedDiscoveries(1, { rateKey: 'egress:198.51.100.9' });
    await setRateKey(db(), { key: egress, maxStarts: 1, perSeconds: 60 });
    expect(keysOf(await claimAt(db(), start, 1))).toEqual([egress]);
    expect((await claimAt(db(), start, 1)).map((job) => job.id)).toEqual([other!.id]);
  });
});

describe('a key’s breaker settings', () => {
  it('stay as they were when the key’s rate is set again without them', async () => {
    await setRateKey(db(), {
      key: egress,
      maxStarts: 2,
      perSeconds: 10,
      breakerThreshold: 1,
      breakerCooldownSeconds: 86_400,
    });
    expect(await setRateKey(db(), { key: egress, maxStarts: 5, perSeconds: 10 })).toMatchObject({
      maxStarts: 5,
      breakerThreshold: 1,
      breakerCooldownSeconds: 86_400,
    });
  });
});

describe('start rates under 16 concurrent claimers', () => {
  const claimers = 16;
  let pool: Knex;

  // One connection per claimer, so the claims really run side by side in PostgreSQL.
  beforeAll(() => {
    pool = connect(testDatabase().url, { ...testPoolSettings, DATABASE_POOL_SIZE: claimers + 4 });
  });
  afterAll(() => pool.destroy());

  /** Every claimer claims until it gets nothing; returns every job claimed. */
  async function drain(): Promise<ClaimedJob[]> {
    const claimed: ClaimedJob[] = [];
    const claimer = async () => {
      for (;;) {
        const jobs = await claimAt(pool, start, 2);
        if (jobs.length === 0) return;
        claimed.push(...jobs);
      }
    };
    await Promise.all(Array.from({ length: claimers }, claimer));
    return claimed;
  }

  it("start exactly a type's bucket for all of them together", async () => {
    await queuedDiscoveries(60);
    await setJobTypeRate(db(), { jobType: 'channel_discovery', maxStarts: 7, perSeconds: 3_600 });
    const claimed = await drain();
    expect(claimed).toHaveLength(7);
    expect(new Set(claimed.map((job) => job.id)).size).toBe(7);
  });

  it("start exactly a key's bucket for all of them together, and every job of the other keys", async () => {
    await queuedDiscoveries(40, { rateKey: egress });
    await queuedDiscoveries(20);
    await setRateKey(db(), { key: egress, maxStarts: 5, perSeconds: 3_600 });
    const claimed = await drain();
    expect(claimed.filter((job) => job.rateKey === egress)).toHaveLength(5);
    expect(claimed).toHaveLength(25);
  });
});

describe('rates over the API', () => {
  it('sets and lists a type rate and key rates for admins, over tRPC and REST, a page of keys at a time', async () => {
    const typeRate = await api.mutate<JobTypeSettings>('jobs.setTypeRate', {
      jobType: 'transcript_extraction',
      maxStarts: 30,
      perSeconds: 60,
    });
    expect(typeRate.data).toMatchObject({
      maxStarts: 30,
      perSeconds: 60,
      startTokens: 30,
      cooldownUntil: null,
    });
    const rest = await request(api.app.server)
      .put('/api/job-types/transcript_extraction/rate')
      .send({ maxStarts: null });
    expect(rest.body).toMatchObject({ maxStarts: null, perSeconds: null, startTokens: null });

    for (const key of ['egress:c', 'egress:a', 'egress:b']) {
      // Each response shows the key it set, not the first in key order.
      const set = await api.mutate<RateKey>('rateKeys.set', { key, maxStarts: 10, perSeconds: 1 });
      expect(set.data.key).toBe(key);
    }
    const viaRest = await request(api.app.server)
      .put(`/api/rate-keys/${encodeURIComponent('channel:UCx')}`)
      .send({ maxStarts: null, breakerThreshold: 1, breakerCooldownSeconds: 86_400 });
    expect(viaRest.body).toMatchObject({
      key: 'channel:UCx',
      maxStarts: null,
      startTokens: null,
      breaker: 'closed',
      breakerThreshold: 1,
      breakerCooldownSeconds: 86_400,
      rateLimitedInARow: 0,
    });
    // A page of three: its cursor is its last key, not its second.
    const first = await api.query<Page<RateKey>>('rateKeys.list', { limit: 3 });
    expect(first.data.items.map((key) => key.key)).toEqual(['channel:UCx', 'egress:a', 'egress:b']);
    const second = await api.query<Page<RateKey>>('rateKeys.list', {
      limit: 3,
      cursor: first.data.nextCursor,
    });
    expect(second.data.items.map((key) => [key.key, key.startTokens])).toEqual([['egress:c', 10]]);
    expect(second.data.nextCursor).toBeNull();
  });

  it('rejects a rate it could not keep, naming the field', async () => {
    for (const [procedure, input, field] of [
      ['jobs.setTypeRate', { jobType: 'channel_discovery', maxStarts: 0, perSeconds: 60 }, 'maxStarts'],
      ['jobs.setTypeRate', { jobType: 'channel_discovery', maxStarts: 1 }, 'perSeconds'],
      ['jobs.setTypeRate', { jobType: 'channel_discovery', maxStarts: null, perSeconds: 60 }, 'perSeconds'],
      ['jobs.setTypeRate', { jobType: 'channel_discovery', maxStarts: 1, perSeconds: 86_401 }, 'perSeconds'],
      ['rateKeys.set', { key: 'egress a', maxStarts: null }, 'key'],
      ['rateKeys.set', { key: 'egress/a', maxStarts: null }, 'key'],
      ['rateKeys.set', { key: 'x'.repeat(201), maxStarts: null }, 'key'],
      ['rateKeys.set', { key: 'egress:a', maxStarts: null, breakerThreshold: 0 }, 'breakerThreshold'],
      ['rateKeys.set', { key: 'egress:a', maxStarts: 1_000_001, perSeconds: 1 }, 'maxStarts'],
    ] as const) {
      const rejected = await api.mutate(procedure, input);
      expect(rejected.status, JSON.stringify(input)).toBe(400);
      expect(rejected.error?.data.field, JSON.stringify(input)).toBe(field);
    }
    const edges = await api.mutate<RateKey>('rateKeys.set', {
      key: 'x'.repeat(200),
      maxStarts: 1_000_000,
      perSeconds: 86_400,
      breakerThreshold: 1_000,
    });
    expect(edges.status).toBe(200);
  });
});
