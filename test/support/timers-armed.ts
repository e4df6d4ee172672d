import { createHook } from 'node:async_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Timers this thread arms in a second (the API, the proxy and the worker alike). A wait that spins, its timer
 * firing at once and armed again until the time comes, arms one every millisecond: about a thousand. A test's
 * API, proxy and worker or lease keeper otherwise arm about a hundred.
 */
export async function timersArmedInASecond(): Promise<number> {
  let armed = 0;
  const hook = createHook({
    init: (_id, type) => {
      if (type === 'Timeout') armed += 1;
    },
  }).enable();
  try {
    await sleep(1_000);
  } finally {
    hook.disable();
  }
  return armed;
}

/** Fewer timers a second than a spinning wait arms, more than anything else here arms. */
export const spinning = 400;

/** Timers armed and not yet fired or cleared, in this thread. */
export const pendingTimers = () =>
  process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
