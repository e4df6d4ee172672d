import type { Knex } from 'knex';
import { seedDatabase } from '../dev/seeding/bulk-seed';
import { seedPlanFrom } from '../dev/seeding/seed-plan';

/**
 * Fills the database with a scenario made by the factories: SEED_SCENARIO `demo` (default), `queue` or `load`.
 * Size it with SEED_VIDEOS, SEED_CHANNELS, SEED_TRANSCRIPT_SHARE and SEED_SESSIONS; SEED picks the random
 * sequence; SEED_MODE=add adds to the data instead of replacing it; SEED_DRY_RUN=true prints the plan and the
 * rows it would write, and writes nothing. Runs the pending migrations first (not in a dry run).
 */
export async function seed(knex: Knex): Promise<void> {
  const plan = seedPlanFrom(process.env);
  // A fresh clone's database has no tables yet: seeding brings the schema up to date first.
  if (!plan.dryRun) await knex.migrate.latest();
  const { scenario, mode, seed: number, videos, channels, sessions, referenceDate } = plan;
  console.log(
    `${plan.dryRun ? 'Dry run: would seed' : 'Seeding'} scenario ${scenario} (${mode}, seed ${number}, as of ${referenceDate.toISOString()}): ${videos.toLocaleString('en')} videos over ${channels.toLocaleString('en')} channels, ${sessions} sessions`,
  );
  const tty = process.stdout.isTTY;
  const report = await seedDatabase(knex, plan, (done, total) => {
    if (!tty || total === 0) return;
    const width = 30;
    const filled = Math.round((done / total) * width);
    process.stdout.write(
      `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done.toLocaleString('en')} / ${total.toLocaleString('en')} videos`,
    );
  });
  if (tty) process.stdout.write('\n');
  const made = Object.entries(report.rows)
    .map(([table, count]) => `${count.toLocaleString('en')} ${table}`)
    .join(', ');
  console.log(
    plan.dryRun
      ? `Would write ${made}; nothing was written`
      : `Seeded ${made} in ${report.seconds.toFixed(1)} s, ${Math.round(report.rowsPerSecond).toLocaleString('en')} rows/s`,
  );
}
