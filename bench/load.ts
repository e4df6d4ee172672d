import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import autocannon from 'autocannon';

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

const rssMb = (pid: number) => {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
};

/** Starts a server script in its own process, loads it with autocannon, and samples its memory. */
export async function loadServer(
  script: string,
  databaseUrl: string,
  scenarios: Scenario[],
  seconds: number,
) {
  const child = fork(path.join(__dirname, 'servers', script), {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, DATABASE_URL: databaseUrl },
    stdio: 'inherit',
  });
  const { address, pid } = await new Promise<{ address: string; pid: number }>((resolve, reject) => {
    child.once('message', (message) => resolve(message as { address: string; pid: number }));
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
  });
  const results: Record<string, LoadResult> = {};
  try {
    for (const scenario of scenarios) {
      // A warm-up, so both servers are measured with their pools open and their hot code optimised.
      await autocannon({
        url: address,
        connections: 10,
        duration: Math.min(3, seconds),
        headers: { 'content-type': 'application/json' },
        requests: [{ method: scenario.method, setupRequest: (r) => ({ ...r, ...scenario.request() }) }],
      });
      const idleRssMb = rssMb(pid);
      let peakRssMb = idleRssMb;
      const sampler = setInterval(() => (peakRssMb = Math.max(peakRssMb, rssMb(pid))), 200);
      const result = await autocannon({
        url: address,
        connections: 20,
        duration: seconds,
        headers: { 'content-type': 'application/json' },
        requests: [
          { method: scenario.method, setupRequest: (request) => ({ ...request, ...scenario.request() }) },
        ],
      });
      clearInterval(sampler);
      results[scenario.name] = {
        requestsPerSecond: result.requests.average,
        p50: result.latency.p50,
        p99: result.latency.p99,
        errors: result.errors + result.non2xx,
        idleRssMb,
        peakRssMb,
      };
    }
  } finally {
    child.kill('SIGTERM');
  }
  return results;
}
