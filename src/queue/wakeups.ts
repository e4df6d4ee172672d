import pg from 'pg';

/** The channel src/queue/sql/notify_claimable_jobs.sql notifies when jobs become claimable. */
const claimableChannel = 'processing_jobs_claimable';

/** The pause before trying again to LISTEN after the connection was lost or refused: doubling, capped at 5 s. */
const reconnectMs = (failures: number) => Math.min(5_000, 100 * 2 ** failures);

/**
 * Wakes claims that wait for work. One connection per API process LISTENs (opened on the first wait or readiness
 * check, so a process that is never asked holds none); every notification advances a generation counter and
 * wakes all waiters. A waiter passes the generation it saw before its last empty claim, so a notification that
 * arrived in between is not missed; a new connection advances it too, since notifications sent while none
 * listened are lost. A lost connection is opened again in the background until it succeeds. Through PgBouncer in
 * transaction mode, LISTEN needs a direct connection: `DATABASE_LISTEN_URL`.
 */
export class JobWakeups {
  private generation = 0;
  private readonly waiters = new Set<() => void>();
  private client: pg.Client | undefined;
  private connecting: Promise<void> | undefined;
  private reconnect: NodeJS.Timeout | undefined;
  private failures = 0;
  private stopped = false;

  /** `connectTimeoutMs` bounds each attempt, so a readiness check cannot hang on an address that never responds. */
  constructor(
    private readonly url: string,
    private readonly connectTimeoutMs = 5_000,
  ) {}

  /** Closed by a stopping server: waits end at once and waiting claims return empty. */
  get closed(): boolean {
    return this.stopped;
  }

  /**
   * Whether claims can wait for work: the LISTEN connection is open, or opens now. What `/ready` reports, since a
   * waiting claim without it fails.
   */
  async listening(): Promise<boolean> {
    await this.listen().catch(() => undefined);
    return this.client !== undefined;
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
    if (this.generation !== seen || this.stopped || signal?.aborted) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, until - Date.now()));
      this.waiters.add(done);
      signal?.addEventListener('abort', done);
    });
  }

  async close(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnect);
    // Stryker disable next-line all: a wait begins only on an open connection, whose end, just below, wakes it too.
    for (const wake of [...this.waiters]) wake();
    await this.client?.end().catch(() => undefined);
    this.client = undefined;
  }

  private wakeAll(): void {
    this.generation += 1;
    for (const wake of [...this.waiters]) wake();
  }

  /** Tries again after a pause, in the background, until a connection listens or the wake-ups close. */
  private reconnectLater(): void {
    if (this.stopped || this.reconnect) return;
    this.reconnect = setTimeout(() => {
      this.reconnect = undefined;
      this.listen().catch(() => undefined);
    }, reconnectMs(this.failures));
    // An API process is kept alive by its server; a retry alone must not hold it.
    this.reconnect.unref();
  }

  private listen(): Promise<void> {
    if (this.client || this.stopped) return Promise.resolve();
    this.connecting ??= (async () => {
      const client = new pg.Client({
        connectionString: this.url,
        connectionTimeoutMillis: this.connectTimeoutMs,
      });
      client.on('notification', () => this.wakeAll());
      // A lost connection wakes everyone (their claims run again, and find what was missed) and is opened again;
      // pg reports an idle connection's end without an error.
      const lost = () => {
        if (this.client !== client) return;
        this.client = undefined;
        this.wakeAll();
        this.reconnectLater();
      };
      client.on('error', lost);
      client.on('end', lost);
      try {
        await client.connect();
        await client.query(`LISTEN ${claimableChannel}`);
      } catch (error) {
        await client.end().catch(() => undefined);
        this.failures += 1;
        this.reconnectLater();
        throw error;
      } finally {
        this.connecting = undefined;
      }
      if (this.stopped) {
        await client.end();
        return;
      }
      this.client = client;
      this.failures = 0;
      this.wakeAll();
    })();
    return this.connecting;
  }
}
