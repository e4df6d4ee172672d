import { spawn } from 'node:child_process';
import console from 'node:console';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath, pathToFileURL, URL } from 'node:url';
import { config as loadDotenv } from 'dotenv';

/**
 * `npm start`, `npm run worker` and `npm run scheduler`: `node scripts/start.mjs [--telemetry] <dir>/<entry>.ts`, an
 * entry point in src/ (or the demo worker in dev/). With NODE_ENV=production (from the environment or .env) it runs
 * the compiled dist/<dir>/<entry>.js with plain node, without the TypeScript loader's memory and start-up. Anywhere
 * else it runs the source through tsx, so no build is needed while developing. `--telemetry` preloads src/telemetry.ts (or its compiled form) so that
 * OpenTelemetry patches http, undici and pg before the entry point loads them.
 *
 * The process replaces itself with the server (process.execve), so signals and the exit code are the server's
 * and no second Node process holds memory beside it.
 */
const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const telemetry = args[0] === '--telemetry';
const [entry, ...entryArgs] = telemetry ? args.slice(1) : args;
if (!/^(src|dev)\/[\w-]+\.ts$/.test(entry ?? '')) {
  console.error('usage: node scripts/start.mjs [--telemetry] src/<entry>.ts|dev/<entry>.ts [arguments]');
  process.exit(2);
}

loadDotenv({ path: path.join(root, '.env'), quiet: true });
const production = process.env.NODE_ENV === 'production';
const compiled = (file) => path.join(root, 'dist', file.replace(/\.ts$/, '.js'));
const source = (file) => path.join(root, file);
const file = production ? compiled : source;

if (production && !existsSync(compiled(entry))) {
  console.error(`${compiled(entry)} is missing: run npm run build (npm install runs it).`);
  process.exit(1);
}

/**
 * Node flags for production, kept in package.json (`config.productionNodeFlags`) so the bench runs its servers with
 * the same ones. Under load V8 grows its young generation to 64 MB per semi-space and its old generation well past
 * what stays live, and keeps the pages it used resident long after; a 16 MB semi-space and a heap that grows by
 * half rather than V8's up to fourfold lower the API's peak resident set by about 40% with no throughput cost the
 * bench could tell from its noise (`npm run bench:memory` compares them).
 */
const { productionNodeFlags } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).config;

const nodeArgs = [
  ...(production ? productionNodeFlags : ['--import', import.meta.resolve('tsx')]),
  ...(telemetry ? ['--import', pathToFileURL(file('src/telemetry.ts')).href] : []),
  file(entry),
  ...entryArgs,
];

if (process.execve) {
  process.execve(process.execPath, [process.execPath, ...nodeArgs], process.env);
} else {
  // Windows has no execve: run the server as a child and pass its signals and exit code through.
  const child = spawn(process.execPath, nodeArgs, { stdio: 'inherit' });
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}
