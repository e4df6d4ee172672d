import { fork } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import autocannon from 'autocannon';
import { config } from '../package.json';

export interface LoadResult {
  requestsPerSecond: number;
  p50: number;
  p99: number;
  errors: number;
  idleRssMb: number;
  peakRssMb: number;
}

export interface Scenario {
  name: string;
  method: 'GET' | 'POST';
  /** A fresh path and body per request, so creates do not collide. */
  request: () => { path: string; body?: string };
}

export interface BenchServer {
  address: string;
  pid: number;
  stop(): void;
}

const rssMb = (pid: number) => {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
};

/** Where `npm run bench:build` compiles the servers (tsconfig.bench.json), apart from the package's dist/. */
const compiledRoot = path.resolve(
  __dirname,
  '..',
  (
    JSON.parse(readFileSync(path.join(__dirname, '..', 'tsconfig.bench.json'), 'utf8')) as {
      compilerOptions: { outDir: string };
    }
  ).compilerOptions.outDir,
);

/**
 * A bench server (`ours.ts`, `bare.ts`) as `npm start` runs the API in production: compiled, with no TypeScript
 * loader, whose compiled code would otherwise count in the server's memory.
 */
export function compiledServer(script: string): string {
  const file = path.join(compiledRoot, 'bench', 'servers', script.replace(/\.ts$/, '.js'));
  if (!existsSync(file))
    throw new Error(`${file} is missing: run the bench with npm run bench, which builds it`);
  return file;
}

/** Starts a server script in its own process, so the load generator does not share its event loop. */
export async function startServer(
  script: string,
  databaseUrl: string,
  poolSize: number,
): Promise<BenchServer> {
  const child = fork(compiledServer(script), {
    // The flags `npm start` gives node in production, for both servers, rather than the load generator's own,
    // which carry tsx's loader.
    execArgv: config.productionNodeFlags,
    env: { ...process.env, DATABASE_URL: databaseUrl, DATABASE_POOL_SIZE: String(poolSize) },
    stdio: 'inherit',
  });
  const { address, pid } = await new Promise<{ address: string; pid: number }>((resolve, reject) => {
    child.once('message', (message) => resolve(message as { address: string; pid: number }));
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
  });
  return { address, pid, stop: () => child.kill('SIGTERM') };
}

const load = (server: BenchServer, scenario: Scenario, connections: number, seconds: number) =>
  autocannon({
    url: server.address,
    connections,
    duration: seconds,
    headers: { 'content-type': 'application/json' },
    requests: [
      { method: scenario.method, setupRequest: (request) => ({ ...request, ...scenario.request() }) },
    ],
  });

/** Loads one server with one scenario after a warm-up, and samples its memory meanwhile. */
export async function loadScenario(
  server: BenchServer,
  scenario: Scenario,
  connections: number,
  seconds: number,
): Promise<LoadResult> {
  // A warm-up, so every server is measured with its pool open and its hot code optimised.
  await load(server, scenario, connections, Math.min(3, seconds));
  const idleRssMb = rssMb(server.pid);
  let peakRssMb = idleRssMb;
  const sampler = setInterval(() => (peakRssMb = Math.max(peakRssMb, rssMb(server.pid))), 200);
  const result = await load(server, scenario, connections, seconds);
  clearInterval(sampler);
  return {
    requestsPerSecond: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.non2xx,
    idleRssMb,
    peakRssMb,
  };
}
