import type { Knex } from 'knex';
import { drainGraphileWorker } from './graphile';
import { overRounds, type QueueResult } from './queue';
import { benchHandlers, drainWithWorker, graphileLatency, type Latency, workerLatency } from './worker';

const fixed = (n: number, digits = 1) => n.toFixed(digits);
const ratio = (ours: number, base: number) => (base > 0 ? ours / base : 0);

export interface RuntimeComparison {
  /** One round: each handler drains through graphile-worker's runner, then through `createWorker`. */
  round(): Promise<void>;
  /** graphile-worker's figure over all rounds with one handler, to compare other queues with. */
  peer(handler: string): QueueResult;
  /** Enqueue to handler start in idle workers, graphile-worker's first. */
  measureLatency(samples: number): Promise<void>;
  /** The table rows, one per runtime and handler, in the bench's job throughput table. */
  rows(): string[];
  /** The latency table. */
  latencyLines(): string[];
  /** One line: each handler's ratio, the p50s, and the jobs run twice. */
  summary(): string;
  /** Any job of either runtime ran more than once. */
  ranTwice(): boolean;
}

/**
 * `createWorker` over HTTP against graphile-worker's `run()`: the same handlers, the same concurrency and the same
 * database, taking turns, each figure over all its rounds.
 */
export function compareRuntimes(settings: {
  db: Knex;
  apiUrl: string;
  connectionString: string;
  jobs: number;
  concurrency: number;
  poolSize: number;
}): RuntimeComparison {
  const { db, apiUrl, connectionString, jobs, concurrency, poolSize } = settings;
  const rounds = new Map(
    benchHandlers.map((handler) => [handler.name, { ours: [] as QueueResult[], peer: [] as QueueResult[] }]),
  );
  let latency: { ours: Latency; peer: Latency } | undefined;
  const results = () =>
    benchHandlers.map((handler) => {
      const { ours, peer } = rounds.get(handler.name)!;
      return { handler: handler.name, ours: overRounds(ours), peer: overRounds(peer) };
    });

  return {
    async round() {
      for (const handler of benchHandlers) {
        const { ours, peer } = rounds.get(handler.name)!;
        peer.push(await drainGraphileWorker(connectionString, jobs, concurrency, poolSize, handler));
        ours.push(await drainWithWorker(db, apiUrl, jobs, concurrency, handler));
      }
    },
    peer(handler) {
      return overRounds(rounds.get(handler)!.peer);
    },
    async measureLatency(samples) {
      latency = {
        peer: await graphileLatency(connectionString, samples),
        ours: await workerLatency(db, apiUrl, samples),
      };
    },
    rows() {
      const row = (name: string, handler: string, result: QueueResult, base: QueueResult) =>
        `| ${name} | ${handler} | ${result.jobs.toLocaleString('en')} | ${fixed(result.seconds)} | ${Math.round(result.jobsPerSecond)} | ${fixed(ratio(result.jobsPerSecond, base.jobsPerSecond), 2)} | ${result.ranMoreThanOnce} |`;
      return results().flatMap(({ handler, ours, peer }) => [
        row(
          `ours, \`createWorker\` over HTTP to an API process, ${concurrency} handlers`,
          handler,
          ours,
          peer,
        ),
        row(
          `graphile-worker 0.18, \`run()\` with concurrency ${concurrency} (defaults: one job per fetch)`,
          handler,
          peer,
          peer,
        ),
      ]);
    },
    latencyLines() {
      if (!latency) return [];
      return [
        '| runtime | p50 ms | p99 ms |',
        '| --- | ---: | ---: |',
        `| ours, \`createWorker\` waiting in \`jobs.claim\` over HTTP (LISTEN/NOTIFY in the API) | ${fixed(latency.ours.p50)} | ${fixed(latency.ours.p99)} |`,
        `| graphile-worker 0.18, \`run()\` (LISTEN/NOTIFY) | ${fixed(latency.peer.p50)} | ${fixed(latency.peer.p99)} |`,
      ];
    },
    summary() {
      const all = results();
      const throughput = all
        .map(
          ({ handler, ours, peer }) =>
            `${handler} ${fixed(ratio(ours.jobsPerSecond, peer.jobsPerSecond), 2)}x (${Math.round(ours.jobsPerSecond)} / ${Math.round(peer.jobsPerSecond)} jobs/s)`,
        )
        .join(', ');
      const starts = latency
        ? `, enqueue to start p50 ${fixed(latency.ours.p50)} / ${fixed(latency.peer.p50)} ms`
        : '';
      const twice = all.reduce((sum, { ours, peer }) => sum + ours.ranMoreThanOnce + peer.ranMoreThanOnce, 0);
      return `createWorker / graphile-worker run(), concurrency ${concurrency}: ${throughput}${starts}; jobs run more than once: ${twice}`;
    },
    ranTwice() {
      return results().some(({ ours, peer }) => ours.ranMoreThanOnce + peer.ranMoreThanOnce > 0);
    },
  };
}
