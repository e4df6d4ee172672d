import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon from 'autocannon';
import { config } from '../package.json';
import { startEmbeddedPostgres } from '../src/db/embedded-postgres';
import { connect } from '../src/db/connect';
import { ensureDatabase } from '../src/db/provision';
import { seedDatabase } from '../dev/seeding/bulk-seed';
import { seedPlanFrom } from '../dev/seeding/seed-plan';
import { compiledServer } from './load';
import type { MemoryReport } from './servers/ours';

/**
 * `npm run bench:memory`: what holds the API's memory after a burst of 200 clients. Each variant starts the API in
 * a process of its own, bursts it, lets it settle, and reads its resident set and V8's heap before and after a full
 * garbage collection, so memory the JavaScript heap holds can be told from memory the process keeps elsewhere
 * (V8's pooled pages, the allocator's arenas, the TypeScript loader's compiled code). The server runs compiled, as
 * `npm start` runs it in production, with or without the production flags (package.json's
 * `config.productionNodeFlags`) and each of them alone, and once through tsx, as it ran before.
 */
interface Variant {
  name: string;
  /** Through the TypeScript loader, as the bench ran the server before it was compiled. */
  tsx?: boolean;
  execArgv: string[];
  env: Record<string, string>;
}

const production = config.productionNodeFlags;
const variants: Variant[] = [
  { name: 'tsx loader, no flags', tsx: true, execArgv: [], env: {} },
  { name: 'compiled (node dist), no flags', execArgv: [], env: {} },
  { name: `compiled, as npm start runs it: ${production.join(' ')}`, execArgv: production, env: {} },
  ...production.map((flag) => ({ name: `compiled, ${flag} alone`, execArgv: [flag], env: {} })),
  { name: 'compiled, MALLOC_ARENA_MAX=2', execArgv: [], env: { MALLOC_ARENA_MAX: '2' } },
  { name: 'compiled, --max-semi-space-size=4', execArgv: ['--max-semi-space-size=4'], env: {} },
  { name: 'compiled, pool 5', execArgv: [], env: { DATABASE_POOL_SIZE: '5' } },
];

const burstConnections = 200;
const burstSeconds = Number(process.env.BENCH_SECONDS ?? 10);
const settleMs = 5_000;
const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
const rssMb = (pid: number) =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

/**
 * Resident MB of anonymous 256 KB mappings: V8's heap pages. After a burst they far outnumber what V8 reports as its
 * heap, because it keeps the pages it freed (a pool for reuse) resident; the allocator holds little beside them.
 */
function v8PagesMb(pid: number): number {
  let kilobytes = 0;
  let page = false;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const mapping = /^([0-9a-f]+)-([0-9a-f]+) (?:\S+ ){3}\d+ *(.*)$/.exec(line);
    if (mapping)
      page =
        !mapping[3] && Number.parseInt(mapping[2]!, 16) - Number.parseInt(mapping[1]!, 16) === 256 * 1024;
    else if (page && line.startsWith('Rss:')) kilobytes += Number.parseInt(line.slice(4), 10);
  }
  return kilobytes / 1024;
}

async function measure(variant: Variant, databaseUrl: string): Promise<string> {
  const server = variant.tsx ? path.join(__dirname, 'servers', 'ours.ts') : compiledServer('ours.ts');
  const child = fork(server, {
    execArgv: [...(variant.tsx ? ['--import', 'tsx'] : []), ...variant.execArgv, '--expose-gc'],
    env: { ...process.env, DATABASE_URL: databaseUrl, DATABASE_POOL_SIZE: '20', ...variant.env },
    stdio: 'inherit',
  });
  const { address, pid } = await new Promise<{ address: string; pid: number }>((resolve, reject) => {
    child.once('message', (message) => resolve(message as { address: string; pid: number }));
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  const report = (gc: boolean) =>
    new Promise<MemoryReport>((resolve) => {
      child.once('message', (message) => resolve(message as MemoryReport));
      child.send({ memory: true, gc });
    });
  try {
    await sleep(1_000);
    const idle = await report(false);
    let peak = idle.rss;
    const sampler = setInterval(() => (peak = Math.max(peak, rssMb(pid) * 1024 * 1024)), 200);
    const burst = await autocannon({
      url: `${address}/api/channels?limit=50`,
      connections: burstConnections,
      duration: burstSeconds,
    });
    clearInterval(sampler);
    await sleep(settleMs);
    const after = await report(false);
    const collected = await report(true);
    const spaces = collected.heapSpaces
      .filter((space) => space.size > 1024 * 1024)
      .map((space) => `${space.name.replace('_space', '')} ${mb(space.size)}`)
      .join(', ');
    return [
      `| ${variant.name} | ${Math.round(burst.requests.average)} | ${mb(idle.rss)} | ${mb(peak)} | ${mb(after.rss)} | ${mb(after.heapTotal)}`,
      `${mb(after.heapUsed)} | ${mb(collected.rss)} | ${mb(collected.heapTotal)} | ${mb(collected.heapUsed)}`,
      `${mb(collected.external)} | ${v8PagesMb(pid).toFixed(1)} | ${spaces} |`,
    ].join(' | ');
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
  }
}

async function main(): Promise<void> {
  const dataDir = path.join(mkdtempSync(path.join(os.tmpdir(), 'tubesensei-memory-')), 'pgdata');
  const embedded = process.env.DATABASE_URL
    ? undefined
    : await startEmbeddedPostgres({ dataDir, persistent: false });
  const serverUrl = embedded?.url ?? process.env.DATABASE_URL!;
  const databaseUrl = await ensureDatabase(serverUrl, `tubesensei_memory_${randomBytes(3).toString('hex')}`);
  const db = connect(databaseUrl, {
    DATABASE_POOL_SIZE: 5,
    DATABASE_CONNECT_TIMEOUT_MS: 10_000,
    DEBUG: false,
  });
  try {
    await db.migrate.latest();
    await seedDatabase(db, seedPlanFrom({ SEED_SCENARIO: 'load', SEED: '1', SEED_VIDEOS: '5000' }));
    console.log(
      `## Memory after a burst of ${burstConnections} clients (${burstSeconds} s of GET /api/channels?limit=50)\n`,
    );
    console.log(
      '| variant | requests/s | idle RSS | peak RSS | RSS after | heap total | heap used | RSS after gc | heap total | heap used | external | V8 pages resident | heap spaces after gc (MB) |',
    );
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
    for (const variant of variants) console.log(await measure(variant, databaseUrl));
  } finally {
    await db.destroy();
    await embedded?.stop();
  }
}

void main();
