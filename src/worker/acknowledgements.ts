import { asError, backoffMs, Changes, judge } from './calls';
import { deferralOf, outcomeRecorded, snoozeReason, storedMessage } from './stored-outcome';
import {
  type ClaimedJob,
  type Outcome,
  PermanentJobError,
  type Undelivered,
  type WorkerApi,
  type WorkerHooks,
} from './types';

/**
 * The outcomes of finished jobs, kept until the API acknowledges them. A call that fails is a fact about the
 * network, not about the job: its outcomes are sent again with backoff (or after the response's `Retry-After`)
 * while the lease keeper renews their leases. Only a rejection (the lease is no longer the worker's) ends one
 * unrecorded. Completions finishing together go in one `jobs.completeMany`, and so do those finishing while
 * `completionCalls` are in flight: a busy worker sends fewer, larger calls, an idle one each at once.
 */
export interface Acknowledgements {
  /** Keeps a job's outcome until the API acknowledges or rejects it. */
  add(job: ClaimedJob, outcome: Outcome, startedAt: number): void;
  /** Sends a job's outcome now, if it is held and waiting: its lease was rejected, and its own call decides. */
  hasten(jobId: string): void;
  /** Outcomes whose last call failed, waiting to be sent again. */
  readonly retrying: number;
  /**
   * Keeps delivering until every outcome is acknowledged or rejected, or `deadline` (a `Date.now()` time) passes,
   * then cuts off the calls in flight and returns what the API never acknowledged.
   */
  drain(deadline: number): Promise<Undelivered[]>;
}

interface Pending {
  job: ClaimedJob;
  outcome: Outcome;
  /** When its handler started (`performance.now()`), for `completed`'s duration. */
  startedAt: number;
  /** When to send it next (`Date.now()` time). */
  dueAt: number;
  /** A call carrying it has not settled yet. */
  sending: boolean;
  /** Calls carrying it that failed in a row. */
  failures: number;
  /**
   * An earlier call may have reached the API before it failed (a connection reset after the request went out): a
   * rejection may then be the response to this worker's own earlier write, and the job is read to tell.
   */
  unsure: boolean;
}

/** The largest batch `jobs.completeMany` takes, and the most follow-up jobs it takes in all. */
const maxBatch = 100;
const maxFollowUps = 1_000;

/**
 * `jobs.completeMany` calls in flight at once, at most: one while a batch or less waits, so that jobs finishing one
 * after another gather into larger calls, each of whose fixed cost in the API and the database more jobs share (a
 * drain of 5 ms jobs ran 10-20% faster than with two); two when more than a batch waits.
 */
const completionCalls = (waiting: number) => (waiting > maxBatch ? 2 : 1);

/** A call that has not responded in this long is given up on and tried again. */
const callTimeoutMs = 30_000;

/** Completions in batches `jobs.completeMany` takes: 100 jobs at most, with 1,000 follow-up jobs at most in all. */
function completionBatches(items: Pending[]): Pending[][] {
  const batches: Pending[][] = [];
  let batch: Pending[] = [];
  let followUps = 0;
  for (const item of items) {
    if (item.outcome.kind !== 'complete') continue;
    const count = item.outcome.followUps?.length ?? 0;
    if (batch.length === maxBatch || (batch.length > 0 && followUps + count > maxFollowUps)) {
      batches.push(batch);
      batch = [];
      followUps = 0;
    }
    batch.push(item);
    followUps += count;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}

export function createAcknowledgements(settings: {
  api: WorkerApi;
  workerId: string;
  hooks: WorkerHooks;
  /** The outcome was acknowledged or rejected: the job's lease no longer needs renewing. */
  settled(jobId: string): void;
}): Acknowledgements {
  const { api, workerId, hooks } = settings;
  const pending = new Map<string, Pending>();
  const changes = new Changes();
  const closing = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let timerAt = Infinity;
  let completing = 0;
  /** Pending outcomes whose last call failed; kept as a count since every free slot's check reads it. */
  let retrying = 0;

  const callSignal = () => AbortSignal.any([closing.signal, AbortSignal.timeout(callTimeoutMs)]);

  /** Sends what is due at `at`, unless a send is already due by then. */
  const sendAt = (at: number) => {
    if (closing.signal.aborted || timerAt <= at) return;
    clearTimeout(timer);
    timerAt = at;
    timer = setTimeout(send, Math.max(0, at - Date.now()));
  };

  const scheduleNext = () => {
    let next = Infinity;
    let nextCompletion = Infinity;
    let completionsWaiting = 0;
    for (const item of pending.values()) {
      if (item.sending) continue;
      if (item.outcome.kind !== 'complete') next = Math.min(next, item.dueAt);
      else {
        completionsWaiting += 1;
        nextCompletion = Math.min(nextCompletion, item.dueAt);
      }
    }
    // Completions wait for a call to come free; the call's end looks again.
    if (completing < completionCalls(completionsWaiting)) next = Math.min(next, nextCompletion);
    if (next < Infinity) sendAt(next);
  };

  /**
   * Whether `item` is still its job's outcome: the same job claimed again after its lease ran out replaces it
   * (`add`), and whatever the old call learns later must leave the new outcome and its lease alone.
   */
  const current = (item: Pending) => pending.get(item.job.id) === item;

  /** Ends an item: acknowledged or rejected. */
  const end = (item: Pending) => {
    if (!current(item)) return;
    pending.delete(item.job.id);
    if (item.failures > 0) retrying -= 1;
    settings.settled(item.job.id);
    changes.notify();
  };

  /** `row`: the job as the API recorded the outcome, for a deferral's time. */
  const acknowledged = (item: Pending, row?: { runAfter: Date }) => {
    end(item);
    const { outcome, job } = item;
    const deferral = deferralOf(outcome);
    if (deferral) hooks.deferred?.(job, deferral, row?.runAfter ?? new Date());
    else if (outcome.kind === 'complete') hooks.completed?.(job, performance.now() - item.startedAt);
    else if (outcome.kind === 'fail') hooks.failed?.(job, outcome.error, outcome.failure === 'permanent');
    else hooks.released?.([job]);
  };

  const lost = (item: Pending, reason: string) => {
    end(item);
    // A release rejected leaves the job where the worker wanted it: no longer its own.
    if (item.outcome.kind !== 'release') hooks.leaseLost?.(item.job, reason);
  };

  const retryLater = (items: Pending[], error: unknown, afterMs: number | undefined) => {
    hooks.error?.(asError(error));
    for (const item of items) {
      item.sending = false;
      if (item.failures === 0 && current(item)) retrying += 1;
      item.failures += 1;
      item.unsure = true;
      item.dueAt = Date.now() + (afterMs ?? backoffMs(item.failures));
    }
  };

  const rejected = async (item: Pending, reason: string) => {
    if (!item.unsure) return lost(item, reason);
    try {
      const row = await api.jobs.get.query({ id: item.job.id }, { signal: callSignal() });
      if (closing.signal.aborted) return;
      if (outcomeRecorded(item.job, item.outcome, row, workerId)) acknowledged(item, row);
      else lost(item, reason);
    } catch (error) {
      if (closing.signal.aborted) return;
      const verdict = judge(error);
      if (verdict.kind === 'rejected') lost(item, reason);
      else retryLater([item], error, verdict.kind === 'retry' ? verdict.afterMs : undefined);
    }
  };

  const complete = async (batch: Pending[]): Promise<void> => {
    try {
      const { completed, rejected: notCompleted } = await api.jobs.completeMany.mutate(
        {
          jobs: batch.map(({ job, outcome }) => ({
            id: job.id,
            leaseToken: job.leaseToken,
            ...(outcome.kind === 'complete'
              ? {
                  ...(outcome.result === undefined ? {} : { result: outcome.result }),
                  ...(outcome.unitsSpent === undefined ? {} : { unitsSpent: outcome.unitsSpent }),
                  ...(outcome.followUps ? { followUps: outcome.followUps } : {}),
                }
              : {}),
          })),
        },
        { signal: callSignal() },
      );
      if (closing.signal.aborted) return;
      const done = new Set(completed.map((job) => job.id));
      const reasons = new Map(notCompleted.map(({ id, reason }) => [id, reason]));
      await Promise.all(
        batch.map((item) =>
          done.has(item.job.id)
            ? acknowledged(item)
            : rejected(item, reasons.get(item.job.id) ?? 'not completed'),
        ),
      );
    } catch (error) {
      if (closing.signal.aborted) return;
      const verdict = judge(error);
      if (verdict.kind === 'rejected') await Promise.all(batch.map((item) => rejected(item, verdict.reason)));
      else if (verdict.kind === 'retry') retryLater(batch, error, verdict.afterMs);
      else if (batch.length > 1) {
        // One result the API rejects (or a batch too large) must not hold back the others: each goes alone,
        // one after another, so that the client does not put them in one request again.
        for (const item of batch) await complete([item]);
      } else {
        // A result the API rejects would be rejected again at every try: the job fails for good, saying why.
        const [item] = batch as [Pending];
        item.outcome = {
          kind: 'fail',
          error: new PermanentJobError(`the API rejected the job's result: ${verdict.reason}`),
          failure: 'permanent',
        };
        item.sending = false;
        item.unsure = false;
        item.dueAt = Date.now();
      }
    }
  };

  /**
   * The API rejected how the worker reported the job (a quota exhausted for a type with no budget, a snooze past the
   * schedule's horizon), and would reject it again: the job is failed by a plain error instead, retried with backoff.
   */
  const failPlainly = (item: Pending, reason: string) => {
    const { outcome } = item;
    hooks.error?.(
      new Error(`the API rejected the ${outcome.kind} of job ${item.job.id} (${reason}): failed instead`),
    );
    const error =
      outcome.kind === 'fail' ? outcome.error : new Error(`the API rejected the ${outcome.kind}: ${reason}`);
    item.outcome = { kind: 'fail', error, failure: 'error' };
    item.sending = false;
    item.unsure = false;
    item.dueAt = Date.now();
  };

  /** What every call reporting one job does with the API's response. */
  const report = async (item: Pending, call: () => Promise<{ runAfter: Date }>) => {
    try {
      const row = await call();
      if (!closing.signal.aborted) acknowledged(item, row);
    } catch (thrown) {
      if (closing.signal.aborted) return;
      const verdict = judge(thrown);
      const { outcome } = item;
      if (verdict.kind === 'rejected') await rejected(item, verdict.reason);
      else if (verdict.kind === 'retry') retryLater([item], thrown, verdict.afterMs);
      else if (outcome.kind === 'snooze' || (outcome.kind === 'fail' && outcome.failure !== 'error')) {
        failPlainly(item, verdict.reason);
      } else if (outcome.kind === 'release') await rejected(item, verdict.reason);
      else {
        // Nothing sent again would be accepted: the lease runs out and the job is retried as if the worker died.
        hooks.error?.(new Error(`the API rejected the failure of job ${item.job.id}: ${verdict.reason}`));
        end(item);
      }
    }
  };

  const fail = (item: Pending, outcome: Extract<Outcome, { kind: 'fail' }>) =>
    report(item, () =>
      api.jobs.fail.mutate(
        {
          id: item.job.id,
          leaseToken: item.job.leaseToken,
          error: storedMessage(outcome.error),
          kind: outcome.failure,
          ...(outcome.retryAfterSeconds === undefined
            ? {}
            : { retryAfterSeconds: outcome.retryAfterSeconds }),
          ...(outcome.scope === undefined ? {} : { scope: outcome.scope }),
          ...(outcome.unitsSpent === undefined ? {} : { unitsSpent: outcome.unitsSpent }),
        },
        { signal: callSignal() },
      ),
    );

  const snooze = (item: Pending, outcome: Extract<Outcome, { kind: 'snooze' }>) => {
    const reason = snoozeReason(outcome.reason);
    return report(item, () =>
      api.jobs.snooze.mutate(
        {
          id: item.job.id,
          leaseToken: item.job.leaseToken,
          // Seconds from now, on the API's clock: a clock that differs from the worker's moves nothing, and a
          // call sent again counts from the same time.
          delaySeconds: Math.max(0, Math.ceil((outcome.until.getTime() - Date.now()) / 1_000)),
          ...(reason === undefined ? {} : { reason }),
          ...(outcome.unitsSpent === undefined ? {} : { unitsSpent: outcome.unitsSpent }),
        },
        { signal: callSignal() },
      ),
    );
  };

  const release = (item: Pending) =>
    report(item, () =>
      api.jobs.release.mutate({ id: item.job.id, leaseToken: item.job.leaseToken }, { signal: callSignal() }),
    );

  const send = () => {
    timer = undefined;
    timerAt = Infinity;
    const now = Date.now();
    const due = [...pending.values()].filter((item) => !item.sending && item.dueAt <= now);
    const calls: Promise<void>[] = [];
    const completionsDue = due.filter((item) => item.outcome.kind === 'complete').length;
    for (const batch of completionBatches(due)) {
      if (completing >= completionCalls(completionsDue)) break;
      for (const item of batch) item.sending = true;
      completing += 1;
      calls.push(complete(batch).finally(() => (completing -= 1)));
    }
    for (const item of due) {
      if (item.outcome.kind === 'complete') continue;
      item.sending = true;
      if (item.outcome.kind === 'fail') calls.push(fail(item, item.outcome));
      else if (item.outcome.kind === 'snooze') calls.push(snooze(item, item.outcome));
      else calls.push(release(item));
    }
    for (const call of calls) void call.finally(scheduleNext);
    // What is not due yet (a timer may fire a moment before `Date.now()` reaches its time) waits for the next send.
    scheduleNext();
  };

  return {
    add(job, outcome, startedAt) {
      const now = Date.now();
      // The same job claimed again after its lease ran out: the outcome that failed to reach the API is replaced.
      if ((pending.get(job.id)?.failures ?? 0) > 0) retrying -= 1;
      pending.set(job.id, {
        job,
        outcome,
        startedAt,
        dueAt: now,
        sending: false,
        failures: 0,
        unsure: false,
      });
      // Outcomes that come in the same turn of the event loop go in one call.
      sendAt(now);
    },
    hasten(jobId) {
      const item = pending.get(jobId);
      if (!item || item.sending) return;
      item.dueAt = Date.now();
      sendAt(item.dueAt);
    },
    get retrying() {
      return retrying;
    },
    async drain(deadline) {
      while (pending.size > 0 && Date.now() < deadline) await changes.next(deadline - Date.now());
      const left = [...pending.values()].map(({ job, outcome }) => ({ job, outcome: outcome.kind }));
      closing.abort();
      clearTimeout(timer);
      pending.clear();
      retrying = 0;
      return left;
    },
  };
}
