import { describe, expect, it } from 'vitest';
import { transientAttempts, transientRetries } from '../../src/services/database-errors';
import { retryLostRaces } from '../../src/services/lost-races';
import { graphOf } from '../../src/services/rows';

const lostRace = (code: string) => Object.assign(new Error('deadlock detected'), { code });

/** Work that fails with `failures` in turn, then returns `done`; counts its runs. */
function flaky(failures: Error[]) {
  const work = async () => {
    work.runs += 1;
    const failure = failures[work.runs - 1];
    if (failure) throw failure;
    return 'done';
  };
  work.runs = 0;
  return work;
}

describe('work that loses a race', () => {
  it('runs again until it succeeds, and counts each retry by SQLSTATE', async () => {
    const before = transientRetries.get('40P01') ?? 0;
    const work = flaky([lostRace('40P01'), lostRace('40P01')]);
    expect(await retryLostRaces(work)).toBe('done');
    expect(work.runs).toBe(3);
    expect((transientRetries.get('40P01') ?? 0) - before).toBe(2);
  });

  it(`runs ${transientAttempts} times in all, then lets the last lost race through`, async () => {
    const before = transientRetries.get('40001') ?? 0;
    const failures = Array.from({ length: transientAttempts }, () => lostRace('40001'));
    const work = flaky(failures);
    await expect(retryLostRaces(work)).rejects.toBe(failures.at(-1));
    expect(work.runs).toBe(transientAttempts);
    expect((transientRetries.get('40001') ?? 0) - before).toBe(transientAttempts - 1);
  });

  it(`succeeds on its last allowed run, the ${transientAttempts}th`, async () => {
    const work = flaky(Array.from({ length: transientAttempts - 1 }, () => lostRace('55P03')));
    expect(await retryLostRaces(work)).toBe('done');
    expect(work.runs).toBe(transientAttempts);
  });

  it('is not run again for any other failure, which goes through as it is', async () => {
    const bug = new TypeError('bug');
    const work = flaky([bug]);
    await expect(retryLostRaces(work)).rejects.toBe(bug);
    expect(work.runs).toBe(1);
  });
});

describe('a relation expression from an include list', () => {
  it('names each relation once, and is absent for no relations', () => {
    expect(graphOf(['channel', 'transcripts', 'channel'])).toBe('[channel, transcripts]');
    expect(graphOf(['channel'])).toBe('[channel]');
    expect(graphOf([])).toBeUndefined();
    expect(graphOf(undefined)).toBeUndefined();
  });
});
