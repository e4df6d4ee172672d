import { describe, expect, it } from 'vitest';
import { Changes } from '../../src/worker/calls';

const timers = () => process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length;

describe('a wait for the next change in a worker', () => {
  it('ends at the next change, leaving no timer behind to hold the process', async () => {
    const changes = new Changes();
    const before = timers();
    const waited = changes.next(60_000);
    expect(timers()).toBe(before + 1);
    changes.notify();
    await waited;
    expect(timers()).toBe(before);
  });

  it('ends when its time runs out with no change', async () => {
    const changes = new Changes();
    const started = performance.now();
    await changes.next(50);
    expect(performance.now() - started).toBeGreaterThanOrEqual(45);
  });

  it('still wakes the other waiters at the next change after one wait ran out of time', async () => {
    const changes = new Changes();
    const waiting = changes.next(60_000);
    await changes.next(10);
    changes.notify();
    const wokenBy = await Promise.race([
      waiting.then(() => 'the change'),
      new Promise((resolve) => setTimeout(() => resolve('nothing'), 1_000)),
    ]);
    expect(wokenBy).toBe('the change');
  });
});
