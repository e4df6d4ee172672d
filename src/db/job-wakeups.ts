import pg from 'pg';

/** The channel src/queue/sql/notify_claimable_jobs.sql notifies when jobs become claimable. */
const claimableChannel = 'processing_jobs_claimable';

/**
 * Wakes claims that wait for work. One connection per API process LISTENs (opened on the first wait, so a
 * process that never waits holds none); every notification advances a generation counter and wakes all waiters.
 * A waiter passes the generation it saw before its last empty claim, so a notification that arrived in between
 * is not missed. Through PgBouncer in transaction mode, LISTEN needs a direct connection: `DATABASE_LISTEN_URL`.
 */
export class JobWakeups {
  private generation = 0;
  private readonly waiters = new Set<() => void>();
  private client: pg.Client | undefined;
  private connecting: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly url: string) {}

  /** Closed by a stopping server: waits end at once and waiting claims answer empty. */
  get closed(): boolean {
    return this.stopped;
  }

  /** The current generation, to pass to `waitAfter`. */
  seen(): number {
    return this.generation;
  }

  /**
   * Resolves when a notification arrives after generation `seen`, at `until`, or when `signal` aborts, whichever
   * comes first. Resolves at once if one arrived already.
   */
  async waitAfter(seen: number, until: number, signal: AbortSignal | undefined): Promise<void> {
    await this.listen();
    if (this.generation !== seen || this.stopped || signal?.aborted || Date.now() >= until) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, until - Date.now()));
      this.waiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
      if (this.generation !== seen) done();
    });
  }

  async close(): Promise<void> {
    this.stopped = true;
    for (const wake of [...this.waiters]) wake();
    await this.client?.end().catch(() => undefined);
    this.client = undefined;
  }

  private wakeAll(): void {
    this.generation += 1;
    for (const wake of [...this.waiters]) wake();
  }

  private listen(): Promise<void> {
    if (this.client || this.stopped) return Promise.resolve();
    this.connecting ??= (async () => {
      const client = new pg.Client({ connectionString: this.url });
      client.on('notification', () => this.wakeAll());
      // A lost connection wakes everyone (their claims run again, and find what was missed) and reconnects on
      // the next wait; pg reports an idle connection's end without an error.
      const lost = () => {
        if (this.client !== client) return;
        this.client = undefined;
        this.wakeAll();
      };
      client.on('error', lost);
      client.on('end', lost);
      try {
        await client.connect();
        await client.query(`LISTEN ${claimableChannel}`);
        if (this.stopped) await client.end();
        else this.client = client;
      } finally {
        this.connecting = undefined;
      }
    })();
    return this.connecting;
  }
}
