import type { Knex } from 'knex';
import { seedDemoData } from '../src/factories/bulk-seed';
import { seedPlanFrom } from '../src/factories/seed-plan';

/**
 * Replaces the database's contents with demo data made by the factories. Size it with SEED_VIDEOS (default
 * 1,000), SEED_CHANNELS, SEED_TRANSCRIPT_SHARE and SEED_SESSIONS; SEED picks the random sequence, and
 * SEED_BATCH_VIDEOS trades memory for speed. Runs the pending migrations first.
 */
export async function seed(knex: Knex): Promise<void> {
  const plan = seedPlanFrom(process.env);
  // A fresh clone's database has no tables yet: seeding brings the schema up to date first.
  await knex.migrate.latest();
  const tty = process.stdout.isTTY;
  const report = await seedDemoData(knex, plan, (done, total) => {
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
    `Seeded ${made} (seed ${plan.seed}) in ${report.seconds.toFixed(1)} s, ${Math.round(report.rowsPerSecond).toLocaleString('en')} rows/s`,
  );
}
