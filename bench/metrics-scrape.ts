import type { Knex } from 'knex';
import { buildApp } from '../src/app';

export interface ScrapeResult {
  /** The first scrape, which folds the counts' delta rows the seeding and the drains left. */
  firstMs: number;
  p50Ms: number;
  maxMs: number;
  scrapes: number;
  /** The sum of `tubesensei_jobs` in the last scrape, to hold against the table's rows. */
  jobs: number;
}

/**
 * Scrapes `/metrics` over loopback as Prometheus would, from an API app on the bench's database: once, then
 * `scrapes` more times, one after another.
 */
export async function scrapeMetrics(db: Knex, scrapes: number): Promise<ScrapeResult> {
  const app = await buildApp({ db, logger: false, tokens: [], production: true, metrics: {} });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  const timed = async () => {
    const started = performance.now();
    const response = await fetch(`${address}/metrics`);
    const text = await response.text();
    if (!response.ok) throw new Error(`/metrics responded ${response.status}`);
    return { ms: performance.now() - started, text };
  };
  try {
    const first = await timed();
    const times: number[] = [];
    let last = first.text;
    for (let i = 0; i < scrapes; i += 1) {
      const { ms, text } = await timed();
      times.push(ms);
      last = text;
    }
    times.sort((a, b) => a - b);
    const jobs = [...last.matchAll(/^tubesensei_jobs\{[^}]*\} (\d+)$/gm)].reduce(
      (sum, match) => sum + Number(match[1]),
      0,
    );
    return {
      firstMs: first.ms,
      p50Ms: times[Math.floor(times.length / 2)]!,
      maxMs: times.at(-1)!,
      scrapes,
      jobs,
    };
  } finally {
    await app.close();
  }
}
