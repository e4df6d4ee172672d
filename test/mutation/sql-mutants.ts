import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Mutation testing for the SQL that Stryker sees only as strings: the functions and triggers (their current text,
 * in `src/queue/sql/`), the constraints and indexes (in `migrations/`). Each mutant is one realistic bug, written
 * as a patch (the text it finds, exactly once in the function's file or in the migration's `up`, and what it puts
 * instead) with the test files that must catch it. `npm run test:mutation:sql` applies each in turn, runs those
 * tests against a database migrated with the mutant, and reports it killed (a test failed) or survived;
 * `-- --check` only proves every patch still applies, for CI, and `-- --only TEXT` runs the mutants whose name
 * or file contains TEXT.
 */

interface SqlMutant {
  name: string;
  /** A function's file in src/queue/sql/ (what the migrations leave today), or a migration. */
  file: string;
  find: string;
  replace: string;
  tests: string[];
}

const sql = (fn: string) => `src/queue/sql/${fn}.sql`;
const claim = sql('claim_jobs');
const complete = sql('complete_jobs');
const followSession = sql('follow_job_session');
const schedule = sql('enqueue_due_discoveries');
const prune = sql('prune_finished_jobs');
const queueTests = ['test/api/jobs.test.ts', 'test/queue/concurrency.test.ts', 'test/queue/ordering.test.ts'];

export const sqlMutants: SqlMutant[] = [
  {
    name: 'claim hands out low priority first',
    file: claim,
    find: `SELECT id, budget, cost FROM in_budget
         ORDER BY priority DESC, fair_round, created_at, id`,
    replace: `SELECT id, budget, cost FROM in_budget
         ORDER BY priority ASC, fair_round, created_at, id`,
    tests: ['test/queue/ordering.test.ts', 'test/queue/type-limits.test.ts'],
  },
  {
    name: 'claim hands out the newest job first among equal priorities',
    file: claim,
    find: `ORDER BY priority DESC, fair_round, created_at, id
            LIMIT g.cap FOR UPDATE SKIP LOCKED) queued`,
    replace: `ORDER BY priority DESC, fair_round, created_at DESC, id
            LIMIT g.cap FOR UPDATE SKIP LOCKED) queued`,
    tests: ['test/queue/ordering.test.ts'],
  },
  {
    name: 'claim ignores run_after (a retry runs at once)',
    file: claim,
    find: `WHERE status = 'queued' AND NOT held AND run_after <= clock AND job_type = g.name`,
    replace: `WHERE status = 'queued' AND NOT held AND job_type = g.name`,
    tests: queueTests,
  },
  {
    name: 'claim takes over an expired lease that has no attempt left',
    file: claim,
    find: `lease_expires_at < now() AND attempts < max_attempts
              AND job_type = g.name`,
    replace: `lease_expires_at < now() AND attempts <= max_attempts
              AND job_type = g.name`,
    tests: queueTests,
  },
  {
    name: 'an expired last attempt is not failed',
    file: claim,
    find: `WHERE status = 'running' AND lease_expires_at < now() AND attempts >= max_attempts`,
    replace: `WHERE status = 'running' AND lease_expires_at < now() AND attempts > max_attempts`,
    tests: queueTests,
  },
  {
    name: 'an exhausted job leaves its video processing',
    file: claim,
    find: `JOIN exhausted e ON e.entity_type = 'video' AND v.id = e.entity_id`,
    replace: `JOIN exhausted e ON false AND v.id = e.entity_id`,
    tests: ['test/api/video-follows-job.test.ts'],
  },
  {
    name: 'claim leaves the video queued',
    file: claim,
    find: `JOIN claimed ON claimed.entity_type = 'video' AND v.id = claimed.entity_id`,
    replace: `JOIN claimed ON false AND v.id = claimed.entity_id`,
    tests: ['test/api/video-follows-job.test.ts', 'test/api/jobs.test.ts'],
  },
  {
    name: "claim hands out a paused session's queued jobs",
    file: claim,
    find: `WHERE status = 'queued' AND NOT held AND run_after`,
    replace: `WHERE status = 'queued' AND run_after`,
    tests: ['test/queue/sessions.test.ts'],
  },
  {
    name: "claim takes over a paused session's expired leases",
    file: claim,
    find: `WHERE status = 'running' AND NOT held AND lease_expires_at < now()`,
    replace: `WHERE status = 'running' AND lease_expires_at < now()`,
    tests: ['test/queue/sessions.test.ts'],
  },
  {
    name: 'a job enqueued into a paused session is not held',
    file: followSession,
    find: `NEW.held := session_status IS NOT DISTINCT FROM 'paused';`,
    replace: `NEW.held := false;`,
    tests: ['test/queue/sessions.test.ts'],
  },
  {
    name: 'a job entering a session reads its status without a lock (and slips past a pause)',
    file: followSession,
    find: `WHERE id = NEW.session_id FOR KEY SHARE;`,
    replace: `WHERE id = NEW.session_id;`,
    tests: ['test/queue/sessions.test.ts'],
  },
  {
    name: 'a finished session still queues jobs',
    file: followSession,
    find: `IF session_status IN ('completed', 'failed') AND NEW.status = 'queued' THEN`,
    replace: `IF false THEN`,
    tests: ['test/queue/sessions.test.ts'],
  },
  {
    name: 'a held job moved out of its session stays held',
    file: sql('release_job_hold'),
    find: `WHEN ((new.held AND ((new.session_id IS NULL) OR (new.status <> ALL`,
    replace: `WHEN ((new.held AND ((new.status <> ALL`,
    tests: ['test/queue/sessions.test.ts'],
  },
  {
    name: 'concurrent claims of a limited type do not take turns',
    file: claim,
    find: `(claim_types IS NULL OR name = ANY(claim_types))
        ORDER BY name FOR NO KEY UPDATE;
      PERFORM 1 FROM quota_budgets`,
    replace: `(claim_types IS NULL OR name = ANY(claim_types))
        ORDER BY name;
      PERFORM 1 FROM quota_budgets`,
    tests: ['test/queue/type-limits.test.ts'],
  },
  {
    name: "a limited type's room is ignored",
    file: claim,
    find: `CASE WHEN t.max_running IS NOT NULL THEN t.max_running - (`,
    replace: `CASE WHEN t.max_running IS NOT NULL THEN claim_limit + t.max_running - (`,
    tests: ['test/queue/type-limits.test.ts'],
  },
  {
    name: "other types' running jobs use up a limited type's room",
    file: claim,
    find: `WHERE j.status = 'running' AND j.job_type = t.name AND j.lease_expires_at >= now()`,
    replace: `WHERE j.status = 'running' AND j.lease_expires_at >= now()`,
    tests: ['test/queue/type-limits.test.ts'],
  },
  {
    name: 'an expired lease still counts against its limit',
    file: claim,
    find: `WHERE j.status = 'running' AND j.job_type = t.name AND j.lease_expires_at >= now()`,
    replace: `WHERE j.status = 'running' AND j.job_type = t.name`,
    tests: ['test/queue/type-limits.test.ts'],
  },
  {
    name: 'a job type may be about the other entity',
    file: 'migrations/20261202000015_sessions_and_limits_govern_claims.ts',
    find: `FOREIGN KEY (job_type, entity_type) REFERENCES job_types (name, entity_type);`,
    replace: `FOREIGN KEY (job_type) REFERENCES job_types (name);`,
    tests: ['test/api/rejected-input.test.ts', 'test/db/job-types.test.ts'],
  },
  {
    name: 'the scheduler enqueues paused and inactive channels',
    file: schedule,
    find: `WHERE c.status = 'active' AND c.next_discovery_at <= now()`,
    replace: `WHERE c.next_discovery_at <= now()`,
    tests: ['test/queue/schedules.test.ts'],
  },
  {
    name: 'the scheduler counts the next period from the missed due time, not from now',
    file: schedule,
    find: `SET next_discovery_at = now()`,
    replace: `SET next_discovery_at = c.next_discovery_at`,
    tests: ['test/queue/schedules.test.ts'],
  },
  {
    name: 'the scheduler takes due channels in no particular order',
    file: schedule,
    find: `ORDER BY c.next_discovery_at, c.id`,
    replace: `ORDER BY c.id`,
    tests: ['test/queue/schedules.test.ts'],
  },
  {
    name: 'pruning measures age from creation, not from finishing',
    file: prune,
    find: `AND completed_at < finished_before`,
    replace: `AND created_at < finished_before`,
    tests: ['test/queue/retention.test.ts'],
  },
  {
    name: 'pruning takes the newest first',
    file: prune,
    find: `ORDER BY completed_at LIMIT batch_size`,
    replace: `ORDER BY completed_at DESC LIMIT batch_size`,
    tests: ['test/queue/retention.test.ts'],
  },
  {
    name: "pruning takes jobs out of their session's progress",
    file: sql('count_deleted_jobs'),
    find: `IF current_setting('tubesensei.pruning', true) = 'on' THEN RETURN NULL; END IF;`,
    replace: ``,
    tests: ['test/queue/retention.test.ts'],
  },
  {
    name: 'completion ignores the lease token',
    file: complete,
    find: `WHERE job.id = given.id AND job.status = 'running' AND job.lease_token = given.lease_token`,
    replace: `WHERE job.id = given.id AND job.status = 'running'`,
    tests: queueTests,
  },
  {
    name: "a completed discovery job does not stamp its channel's last check",
    file: complete,
    find: `WHERE done.entity_type = 'channel' AND done.job_type = 'channel_discovery' AND channels.id = done.entity_id`,
    replace: `WHERE false AND channels.id = done.entity_id`,
    tests: ['test/api/jobs.test.ts'],
  },
  {
    name: 'processedVideos is not kept',
    file: sql('add_session_job_counts'),
    find: 'SET processed_videos = processed_videos + completed.delta',
    replace: 'SET processed_videos = processed_videos',
    tests: ['test/services/session-progress.test.ts'],
  },
  {
    name: 'the session counts ignore a job detached from its session',
    file: sql('count_updated_jobs'),
    find: ' OR EXISTS (SELECT 1 FROM old_jobs WHERE session_id IS NOT NULL)',
    replace: '',
    tests: ['test/services/session-progress.test.ts'],
  },
  {
    name: 'the one-active-job rule also covers failed jobs',
    file: 'migrations/20261124000006_processing_jobs.ts',
    find: `ON processing_jobs (job_type, entity_type, entity_id) WHERE status IN ('queued', 'running');`,
    replace: `ON processing_jobs (job_type, entity_type, entity_id) WHERE status IN ('queued', 'running', 'failed');`,
    tests: ['test/api/jobs.test.ts', 'test/queue/ordering.test.ts'],
  },
  {
    name: 'deleting a row leaves the jobs about it',
    file: sql('delete_jobs_of_deleted_entity'),
    find: `DELETE FROM processing_jobs WHERE entity_type = TG_ARGV[0]::job_entity_type AND entity_id = OLD.id;`,
    replace: `DELETE FROM processing_jobs WHERE false AND entity_id = OLD.id;`,
    tests: ['test/api/deletes.test.ts'],
  },
  {
    name: 'updated_at is not moved by an update',
    file: sql('set_updated_at'),
    find: `NEW.updated_at := now();`,
    replace: `NEW.updated_at := OLD.updated_at;`,
    tests: ['test/api/channels.test.ts'],
  },
];

const root = path.resolve(__dirname, '..', '..');
const isMigration = (file: string) => file.startsWith('migrations/');
/** A migration's `up`, where the schema is made; its `down` may repeat the same SQL to restore it. */
const upOf = (text: string) => text.slice(0, text.indexOf('export async function down'));
/** Where a mutant's text must occur once: a migration's `up`, or the whole of a function's file. */
const patchable = (mutant: SqlMutant, text: string) => (isMigration(mutant.file) ? upOf(text) : text);
const patch = (text: string, mutant: SqlMutant) => text.replace(mutant.find, () => mutant.replace);
/** Runs after every migration of a copy: it replaces a function, and its triggers, by its mutated file. */
const mutantMigration = '99999999999999_sql_mutant.ts';

function check(): string[] {
  return sqlMutants.flatMap((mutant) => {
    const text = patchable(mutant, readFileSync(path.join(root, mutant.file), 'utf8'));
    const count = text.split(mutant.find).length - 1;
    const where = isMigration(mutant.file) ? `${mutant.file}'s up` : mutant.file;
    return count === 1 ? [] : [`${mutant.name}: its text occurs ${count} times in ${where}, not once`];
  });
}

/** Makes `copy` a fresh copy of the migrations, with the mutant when one is given. */
function copyMigrations(copy: string, mutant?: SqlMutant): void {
  rmSync(copy, { recursive: true, force: true });
  cpSync(path.join(root, 'migrations'), copy, { recursive: true });
  if (!mutant) return;
  const text = readFileSync(path.join(root, mutant.file), 'utf8');
  if (isMigration(mutant.file)) {
    const up = upOf(text);
    writeFileSync(
      path.join(copy, path.relative('migrations', mutant.file)),
      patch(up, mutant) + text.slice(up.length),
    );
    return;
  }
  // The file's function says CREATE OR REPLACE; its triggers exist by then, so they must say it too.
  const statements = patch(text, mutant).replaceAll(/^CREATE TRIGGER /gm, 'CREATE OR REPLACE TRIGGER ');
  writeFileSync(
    path.join(copy, mutantMigration),
    `export async function up(knex) {\n  await knex.raw(${JSON.stringify(statements)});\n}\n\nexport async function down() {}\n`,
  );
}

/** `-- --only TEXT` runs the mutants whose name, or the file they patch, contains TEXT. */
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;

function run(): boolean {
  const chosen = sqlMutants.filter(
    (mutant) => !only || mutant.name.includes(only) || mutant.file.includes(only),
  );
  if (chosen.length === 0) {
    console.error(`No SQL mutant's name or file contains "${only}".`);
    return false;
  }
  // Each mutant patches a copy of the migrations, which the tests migrate from (MIGRATIONS_DIR): the project's
  // own files are never touched, so an interrupted run leaves nothing behind. A function's mutant is one more
  // migration, run last, so it replaces the function as the migrations leave it.
  const copy = mkdtempSync(path.join(os.tmpdir(), 'tubesensei-sql-mutants-'));
  const passes = (tests: string[]) =>
    spawnSync('npx', ['vitest', 'run', '--config', 'vitest.mutation.config.ts', ...tests], {
      cwd: root,
      stdio: 'ignore',
      env: { ...process.env, MIGRATIONS_DIR: copy },
    }).status === 0;
  // A failure counts as a kill only if the same tests pass on the unpatched copy.
  copyMigrations(copy);
  if (!passes([...new Set(chosen.flatMap((mutant) => mutant.tests))])) {
    rmSync(copy, { recursive: true, force: true });
    console.error('The tests fail without any mutant: fix them first.');
    return false;
  }
  const results = chosen.map((mutant) => {
    copyMigrations(copy, mutant);
    const killed = !passes(mutant.tests);
    console.log(`${killed ? 'killed  ' : 'SURVIVED'}  ${mutant.name}`);
    return killed;
  });
  rmSync(copy, { recursive: true, force: true });
  const killed = results.filter(Boolean).length;
  console.log(
    `\n${killed} of ${results.length} SQL mutants killed (${((100 * killed) / results.length).toFixed(1)}%)`,
  );
  return killed === results.length;
}

const problems = check();
if (problems.length > 0) {
  console.error(problems.join('\n'));
  process.exit(1);
}
if (process.argv.includes('--check')) {
  console.log(`all ${sqlMutants.length} SQL mutants still apply`);
} else if (!run()) {
  process.exit(1);
}
