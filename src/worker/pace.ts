// Measures a worker keeps of its own recent work, to size what it claims ahead (src/worker/claim-loop.ts).

/** Events per millisecond, from a count that halves every `halfLifeMs`: the recent pace, forgetting the old. */
export function createPace(halfLifeMs = 1_000) {
  let level = 0;
  let at = performance.now();
  const decay = () => {
    const now = performance.now();
    level *= 2 ** ((at - now) / halfLifeMs);
    at = now;
  };
  return {
    add(count: number) {
      decay();
      level += count;
    },
    perMs() {
      decay();
      return (level * Math.LN2) / halfLifeMs;
    },
  };
}

/** A moving average weighing the last figure by `weight`; 0 before the first. */
export function createSmoothed(weight = 0.2) {
  let average: number | undefined;
  return {
    add(figure: number) {
      average = average === undefined ? figure : average + weight * (figure - average);
    },
    value: () => average ?? 0,
  };
}
