import { claimJobsInput } from '../../src/schemas/processing-job';
import { connect } from '../../src/db/connect';
import { claimJobs } from '../../src/queue/job-queue';

/** A worker that claims one job with a three-second lease, reports it, and then hangs until it is killed. */
async function main(): Promise<void> {
  const db = connect(process.env.DATABASE_URL!, {
    DATABASE_POOL_SIZE: 1,
    DATABASE_CONNECT_TIMEOUT_MS: 5_000,
    DEBUG: false,
  });
  const [job] = await claimJobs(
    db,
    claimJobsInput.parse({ workerId: `stalled-${process.pid}`, limit: 1, leaseSeconds: 3 }),
  );
  process.send?.({ jobId: job?.id ?? null });
  setInterval(() => undefined, 60_000);
}

void main();
