import v8 from 'node:v8';
import { buildApp } from '../../src/app';
import { connect } from '../../src/db/connect';

/** What the process holds, asked for over IPC by the memory bench. */
export interface MemoryReport extends NodeJS.MemoryUsage {
  heapSpaces: { name: string; size: number }[];
}

function memoryReport(collect: boolean): MemoryReport {
  // Exposed only when the bench starts the server with --expose-gc.
  if (collect) (globalThis as { gc?: () => void }).gc?.();
  return {
    ...process.memoryUsage(),
    heapSpaces: v8
      .getHeapSpaceStatistics()
      .map((space) => ({ name: space.space_name, size: space.space_size })),
  };
}

/** Our API over the bench database, in its own process so the load generator does not share its event loop. */
async function main(): Promise<void> {
  const db = connect(process.env.DATABASE_URL!, {
    DATABASE_POOL_SIZE: Number(process.env.DATABASE_POOL_SIZE),
    DATABASE_CONNECT_TIMEOUT_MS: 5_000,
    DEBUG: false,
  });
  const app = await buildApp({ db, logger: false, tokens: [], production: true });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  process.send?.({ address, pid: process.pid });
  process.on('message', (message: { memory?: boolean; gc?: boolean }) => {
    if (message.memory) process.send?.(memoryReport(message.gc === true));
  });
  process.once(
    'SIGTERM',
    () =>
      void app
        .close()
        .then(() => db.destroy())
        .then(() => process.exit(0)),
  );
}

void main();
