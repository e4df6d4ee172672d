import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { backoffMs } from '../../src/worker/calls';
import { createPace, createSmoothed } from '../../src/worker/pace';

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['performance'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('the pace a worker sizes its local queue by', () => {
  it('reads a steady rate as that rate, once it has run for a few half-lives', () => {
    const pace = createPace(1_000);
    for (let ms = 0; ms < 10_000; ms += 10) {
      pace.add(5);
      vi.advanceTimersByTime(10);
    }
    expect(pace.perMs()).toBeGreaterThan(0.45);
    expect(pace.perMs()).toBeLessThan(0.55);
  });

  it('halves with each half-life of silence', () => {
    const pace = createPace(1_000);
    pace.add(100);
    const fresh = pace.perMs();
    vi.advanceTimersByTime(1_000);
    expect(pace.perMs()).toBeCloseTo(fresh / 2, 6);
    vi.advanceTimersByTime(2_000);
    expect(pace.perMs()).toBeCloseTo(fresh / 8, 6);
  });

  it('is nothing before the first start', () => {
    expect(createPace().perMs()).toBe(0);
  });
});

describe('the smoothed round trip of a claim', () => {
  it('is 0 before the first figure, the first figure alone, then moves a fifth of the way to each new one', () => {
    const roundTrip = createSmoothed(0.2);
    expect(roundTrip.value()).toBe(0);
    roundTrip.add(10);
    expect(roundTrip.value()).toBe(10);
    roundTrip.add(20);
    expect(roundTrip.value()).toBeCloseTo(12, 9);
    roundTrip.add(2);
    expect(roundTrip.value()).toBeCloseTo(10, 9);
  });
});

describe('the wait before a call is tried again', () => {
  it('doubles from 250 ms with each failure up to its cap, spread by up to a fifth either way', () => {
    const spread = (tries: number, maxMs?: number) =>
      Array.from({ length: 400 }, () => backoffMs(tries, maxMs));
    for (const [tries, base] of [
      [0, 250],
      [1, 250],
      [2, 500],
      [3, 1_000],
      [7, 10_000],
      [12, 10_000],
    ] as const) {
      const waits = spread(tries);
      expect(Math.min(...waits)).toBeGreaterThanOrEqual(base * 0.8);
      expect(Math.max(...waits)).toBeLessThanOrEqual(base * 1.2);
      // Spread both ways, so workers cut off together come back apart.
      expect(waits.some((wait) => wait < base * 0.95)).toBe(true);
      expect(waits.some((wait) => wait > base * 1.05)).toBe(true);
    }
    expect(Math.max(...spread(5, 1_000))).toBeLessThanOrEqual(1_200);
  });
});
