import { beforeEach, describe, expect, it } from 'vitest';
import { listRateKeys, setRateKey } from '../../src/queue/rate-limits';
import { testDatabase } from '../support/database';
import { claimAt, queuedDiscoveries, resetFlowControl } from '../support/flow-control';

const db = () => testDatabase().db;

/** `count` keys in key order, egress:001 first. */
const keys = async (count: number) => {
  await db().raw(
    `INSERT INTO rate_keys (key) SELECT 'egress:' || lpad(i::text, 3, '0') FROM generate_series(1, ?) AS i`,
    [count],
  );
};

beforeEach(() => resetFlowControl(db()));

describe('a page of rate keys', () => {
  it('ends the list at a page filled exactly, with no cursor to an empty page', async () => {
    await keys(3);
    const whole = await listRateKeys(db(), { limit: 3 });
    expect(whole.items.map((row) => row.key)).toEqual(['egress:001', 'egress:002', 'egress:003']);
    expect(whole.nextCursor).toBeNull();
    const first = await listRateKeys(db(), { limit: 2 });
    expect(first.nextCursor).toBe('egress:002');
    expect(await listRateKeys(db(), { limit: 2, cursor: first.nextCursor! })).toMatchObject({
      items: [{ key: 'egress:003' }],
      nextCursor: null,
    });
  });

  it('reads one row past the page from the database, however many keys there are', async () => {
    await keys(200);
    const rowsRead: number[] = [];
    const read = (response: unknown, { sql }: { sql: string }) => {
      if (sql.includes('rate_keys') && Array.isArray(response)) rowsRead.push(response.length);
    };
    db().on('query-response', read);
    try {
      const page = await listRateKeys(db(), { limit: 5, cursor: 'egress:100' });
      expect(page.items.map((row) => row.key)).toEqual([
        'egress:101',
        'egress:102',
        'egress:103',
        'egress:104',
        'egress:105',
      ]);
    } finally {
      db().off('query-response', read);
    }
    expect(rowsRead).toEqual([6]);
  });
});

describe('a key whose rate is set again', () => {
  it('starts again with a full bucket', async () => {
    await queuedDiscoveries(4, { rateKey: 'egress:001' });
    await setRateKey(db(), { key: 'egress:001', maxStarts: 2, perSeconds: 3_600 });
    expect(await claimAt(db(), undefined)).toHaveLength(2);
    expect(await setRateKey(db(), { key: 'egress:001', maxStarts: 2, perSeconds: 3_600 })).toMatchObject({
      startTokens: 2,
    });
    expect(await claimAt(db(), undefined)).toHaveLength(2);
  });
});

describe('a rate key set again', () => {
  it('takes the new breaker settings along with the new rate', async () => {
    await setRateKey(db(), {
      key: 'egress:a',
      maxStarts: 5,
      perSeconds: 60,
      breakerThreshold: 3,
      breakerCooldownSeconds: 60,
    });
    const changed = await setRateKey(db(), {
      key: 'egress:a',
      maxStarts: 10,
      perSeconds: 60,
      breakerThreshold: 7,
      breakerCooldownSeconds: 900,
    });
    expect(changed).toMatchObject({ maxStarts: 10, breakerThreshold: 7, breakerCooldownSeconds: 900 });
  });
});
