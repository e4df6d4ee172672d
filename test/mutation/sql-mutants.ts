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
const enqueue = sql('enqueue_jobs');
const followSession = sql('follow_job_session');
const schedule = sql('enqueue_due_discoveries');
const prune = sql('prune_finished_jobs');
const placeInKey = sql('place_job_in_its_key');
const tokens = sql('refilled_tokens');
const budgetWindow = sql('quota_window');
const budgetTests = ['test/queue/budgets.test.ts'];
const rateTests = ['test/queue/rate-limits.test.ts', 'test/queue/failure-policies.test.ts'];
const fairnessTests = ['test/queue/fairness.test.ts'];
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
    name: 'claim plans its candidates with sorting on, reading every due job of every type',
    file: claim,
    find: `PERFORM set_config('enable_sort', 'off', true);`,
    replace: `PERFORM set_config('enable_sort', sorting, true);`,
    tests: ['test/queue/claim-reads.test.ts'],
  },
  {
    name: 'claim reads every key that was ever rate limited to find the blocked ones',
    file: claim,
    find: `PERFORM set_config('enable_seqscan', 'off', true);`,
    replace: `PERFORM set_config('enable_seqscan', scanning, true);`,
    tests: ['test/queue/claim-reads.test.ts'],
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
    name: "a completion locks its jobs in the order it is given them, not the queue's",
    file: complete,
    find: `PERFORM 1 FROM processing_jobs WHERE id = ANY(job_keys) ORDER BY job_type, entity_type, entity_id, id FOR UPDATE;`,
    replace: `PERFORM 1 FROM processing_jobs WHERE id = ANY(job_keys) FOR UPDATE;`,
    tests: ['test/queue/completion-lock-order.test.ts'],
  },
  {
    name: 'an enqueue inserts its jobs in the order the caller gave them',
    file: enqueue,
    find: `FROM given ORDER BY job_type, entity_type, entity_id`,
    replace: `FROM given ORDER BY ordinality`,
    tests: ['test/queue/enqueue-lock-order.test.ts'],
  },
  {
    name: 'an enqueue takes a job about a row that does not exist',
    file: enqueue,
    find: `IF FOUND THEN`,
    replace: `IF false THEN`,
    tests: ['test/api/jobs.test.ts', 'test/services/rejections.test.ts'],
  },
  {
    name: 'an enqueue locks the channels it names before their videos',
    file: enqueue,
    find: `      SELECT coalesce(array_agg(v.id), '{}') INTO found_videos
        FROM (SELECT id FROM videos
               WHERE id IN (SELECT g.entity_id FROM jsonb_populate_recordset(NULL::processing_jobs, jobs) g
                             WHERE g.entity_type = 'video')
               ORDER BY youtube_video_id FOR KEY SHARE) v;
      SELECT coalesce(array_agg(c.id), '{}') INTO found_channels
        FROM (SELECT id FROM channels
               WHERE id IN (SELECT g.entity_id FROM jsonb_populate_recordset(NULL::processing_jobs, jobs) g
                             WHERE g.entity_type = 'channel')
               ORDER BY id FOR KEY SHARE) c;`,
    replace: `      SELECT coalesce(array_agg(c.id), '{}') INTO found_channels
        FROM (SELECT id FROM channels
               WHERE id IN (SELECT g.entity_id FROM jsonb_populate_recordset(NULL::processing_jobs, jobs) g
                             WHERE g.entity_type = 'channel')
               ORDER BY id FOR KEY SHARE) c;
      SELECT coalesce(array_agg(v.id), '{}') INTO found_videos
        FROM (SELECT id FROM videos
               WHERE id IN (SELECT g.entity_id FROM jsonb_populate_recordset(NULL::processing_jobs, jobs) g
                             WHERE g.entity_type = 'video')
               ORDER BY youtube_video_id FOR KEY SHARE) v;`,
    tests: ['test/queue/enqueue-lock-order.test.ts'],
  },
  {
    name: 'an enqueue queues a video from any status',
    file: enqueue,
    find: `AND v.status = ANY(video_queues_from)`,
    replace: ``,
    tests: ['test/api/jobs.test.ts'],
  },
  {
    name: 'an enqueue reports the active jobs it found as new ones',
    file: enqueue,
    find: `SELECT false, found.active`,
    replace: `SELECT true, found.active`,
    tests: ['test/queue/observers.test.ts', 'test/queue/follow-ups.test.ts'],
  },
  {
    name: "an enqueue returns a key's finished job instead of its active one",
    file: enqueue,
    find: `AND active.entity_id = g.entity_id AND active.status IN ('queued', 'running')`,
    replace: `AND active.entity_id = g.entity_id`,
    tests: ['test/queue/enqueue-existing.test.ts'],
  },
  {
    name: 'completion ignores the lease token',
    file: complete,
    find: `WHERE job.id = given.id AND job.status = 'running' AND job.lease_token = given.lease_token`,
    replace: `WHERE job.id = given.id AND job.status = 'running'`,
    tests: queueTests,
  },
  {
    name: 'a completion leaves the error of a failure that ended an earlier run on its video',
    file: complete,
    find: `UPDATE videos SET status = 'completed', processed_at = now(), error_message = NULL`,
    replace: `UPDATE videos SET status = 'completed', processed_at = now()`,
    tests: ['test/api/video-follows-job.test.ts'],
  },
  {
    name: 'a failed session takes new and retried jobs as if it were open',
    file: followSession,
    find: `IF session_status IN ('completed', 'failed') AND NEW.status = 'queued'`,
    replace: `IF session_status = 'completed' AND NEW.status = 'queued'`,
    tests: ['test/queue/sessions.test.ts'],
  },
  {
    name: 'a claim stamps a retried job as first started now',
    file: claim,
    find: `started_at = coalesce(job.started_at, now())`,
    replace: `started_at = now()`,
    tests: ['test/api/video-follows-job.test.ts'],
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
  {
    name: 'a type cooling down still starts jobs',
    file: claim,
    find: `CASE WHEN t.cooldown_until > clock THEN 0 ELSE least(`,
    replace: `CASE WHEN false THEN 0 ELSE least(`,
    tests: rateTests,
  },
  {
    name: "a type's start rate is not a limit",
    file: claim,
    find: `floor(refilled_tokens(t.start_tokens, t.tokens_at, t.max_starts, t.per_seconds, clock)),`,
    replace: `NULL,`,
    tests: rateTests,
  },
  {
    name: "a type's starts take no tokens",
    file: claim,
    find: `SET start_tokens = refilled_tokens(t.start_tokens, t.tokens_at, t.max_starts, t.per_seconds, clock) - started.jobs,`,
    replace: `SET start_tokens = refilled_tokens(t.start_tokens, t.tokens_at, t.max_starts, t.per_seconds, clock),`,
    tests: rateTests,
  },
  {
    name: "a key's starts take no tokens",
    file: claim,
    find: `- started.jobs, k.start_tokens),`,
    replace: `, k.start_tokens),`,
    tests: rateTests,
  },
  {
    name: 'a key out of tokens is not left out of the candidates',
    file: claim,
    find: `AND refilled_tokens(start_tokens, tokens_at, max_starts, per_seconds, clock) < 1) b;`,
    replace: `AND false) b;`,
    tests: rateTests,
  },
  {
    name: "a key's room is not limited by its tokens",
    file: claim,
    find: `floor(refilled_tokens(start_tokens, tokens_at, max_starts, per_seconds, clock)))::integer`,
    replace: `NULL)::integer`,
    tests: rateTests,
  },
  {
    name: 'an open breaker lets all its jobs through once cooled down, not one probe',
    file: claim,
    find: `least(CASE WHEN breaker <> 'closed' THEN 1 END,`,
    replace: `least(NULL,`,
    tests: rateTests,
  },
  {
    name: 'a probe leaves its breaker open instead of half open',
    file: claim,
    find: `breaker = CASE WHEN k.breaker = 'closed' THEN k.breaker ELSE 'half_open' END,`,
    replace: `breaker = k.breaker,`,
    tests: rateTests,
  },
  {
    name: 'a success leaves its key rate-limited and its breaker as it was',
    file: complete,
    find: `UPDATE rate_keys SET rate_limited_in_a_row = 0, breaker = 'closed', breaker_until = NULL`,
    replace: `UPDATE rate_keys SET rate_limited_in_a_row = rate_limited_in_a_row`,
    tests: rateTests,
  },
  {
    name: 'an exhausted budget still pays for jobs',
    file: claim,
    find: `CASE WHEN b.exhausted_until > clock THEN 0 ELSE`,
    replace: `CASE WHEN false THEN 0 ELSE`,
    tests: budgetTests,
  },
  {
    name: 'a claim records no spend',
    file: claim,
    find: `WHERE chosen.budget IS NOT NULL
         ORDER BY claimed.id`,
    replace: `WHERE false
         ORDER BY claimed.id`,
    tests: budgetTests,
  },
  {
    name: 'spends of past windows are never forgotten',
    file: claim,
    find: `WHERE budget = b.name AND spent_at < b.starts_at`,
    replace: `WHERE budget = b.name AND spent_at < b.starts_at - interval '100 years'`,
    tests: budgetTests,
  },
  {
    name: 'what a worker reports it spent is ignored',
    file: complete,
    find: `UPDATE quota_spends SET units = given.units`,
    replace: `UPDATE quota_spends SET units = quota_spends.units`,
    tests: budgetTests,
  },
  {
    name: "a budget's calendar day starts at UTC midnight",
    file: budgetWindow,
    find: `THEN date_trunc('day', clock AT TIME ZONE b.time_zone) AT TIME ZONE b.time_zone
                     ELSE`,
    replace: `THEN date_trunc('day', clock)
                     ELSE`,
    tests: budgetTests,
  },
  {
    name: "a budget's day resets 24 hours after its start, whatever the day's length",
    file: budgetWindow,
    find: `THEN (date_trunc('day', clock AT TIME ZONE b.time_zone) + interval '1 day') AT TIME ZONE b.time_zone`,
    replace: `THEN date_trunc('day', clock AT TIME ZONE b.time_zone) AT TIME ZONE b.time_zone + interval '24 hours'`,
    tests: budgetTests,
  },
  {
    name: 'a rolling window also counts the spend exactly one window old',
    file: budgetWindow,
    find: `AND (b.time_zone IS NOT NULL OR s.spent_at > w.starts_at))::bigint`,
    replace: `)::bigint`,
    tests: budgetTests,
  },
  {
    name: 'tokens come back at one per period, not max_starts per period',
    file: tokens,
    find: `* max_starts / per_seconds) END`,
    replace: `/ per_seconds) END`,
    tests: rateTests,
  },
  {
    name: 'a bucket refills past its size',
    file: tokens,
    find: `ELSE least(max_starts::double precision,`,
    replace: `ELSE coalesce(NULL::double precision,`,
    tests: rateTests,
  },
  {
    name: "claim picks each type's candidates without their round",
    file: claim,
    find: `ORDER BY priority DESC, fair_round, created_at, id
            LIMIT g.cap FOR UPDATE SKIP LOCKED) queued`,
    replace: `ORDER BY priority DESC, created_at, id
            LIMIT g.cap FOR UPDATE SKIP LOCKED) queued`,
    tests: fairnessTests,
  },
  {
    name: "a new job joins its key's last round instead of the next",
    file: placeInKey,
    find: `(SELECT max(fair_round) + 1 FROM processing_jobs`,
    replace: `(SELECT max(fair_round) FROM processing_jobs`,
    tests: fairnessTests,
  },
  {
    name: "a new key's first job starts behind the rounds already served",
    file: placeInKey,
    find: `(SELECT fair_round FROM processing_jobs
            WHERE job_type = NEW.job_type AND status = 'running' ORDER BY lease_expires_at DESC LIMIT 1),`,
    replace: ``,
    tests: fairnessTests,
  },
  {
    name: "a video job's key is the video, not its channel",
    file: placeInKey,
    find: `WHEN 'video' THEN coalesce((SELECT channel_id FROM videos WHERE id = NEW.entity_id), NEW.entity_id)`,
    replace: `WHEN 'video' THEN NEW.entity_id`,
    tests: fairnessTests,
  },
  {
    name: 'a queued job wakes no waiting claim',
    file: sql('notify_claimable_jobs'),
    find: `IF EXISTS (SELECT 1 FROM new_jobs WHERE status = 'queued' AND NOT held)
         OR EXISTS`,
    replace: `IF EXISTS`,
    tests: ['test/queue/waiting-claims.test.ts'],
  },
  {
    name: "a limited type's job that stops running wakes no waiting claim",
    file: sql('notify_claimable_jobs'),
    find: `WHERE n.status <> 'running' AND t.max_running IS NOT NULL`,
    replace: `WHERE false`,
    tests: ['test/queue/waiting-claims.test.ts', 'test/queue/type-limits.test.ts'],
  },
  {
    name: 'a deleted job is counted as one more of its status',
    file: sql('count_job_types_deleted'),
    find: `SELECT job_type, status, -count(*), 0 FROM old_jobs`,
    replace: `SELECT job_type, status, count(*), 0 FROM old_jobs`,
    tests: ['test/queue/job-count-folding.test.ts', 'test/http/metrics.test.ts'],
  },
  {
    name: 'a lease taken over is not counted as expired',
    file: sql('count_job_types_updated'),
    find: `AND (n.status = 'running' AND n.lease_token <> o.lease_token
                      OR`,
    replace: `AND (`,
    tests: ['test/queue/job-count-folding.test.ts', 'test/http/metrics.test.ts'],
  },
  {
    name: 'a new channel waits a whole period for its first discovery',
    file: sql('schedule_channel_discovery'),
    find: `WHEN NEW.last_checked_at IS NULL THEN NEW.created_at`,
    replace: `WHEN NEW.last_checked_at IS NULL THEN NEW.created_at + make_interval(secs => (NEW.processing_config -> 'discoverEveryHours')::double precision * 3600)`,
    tests: ['test/queue/schedules.test.ts'],
  },
  {
    name: 'discovery periods are counted in minutes, not hours',
    file: sql('schedule_channel_discovery'),
    find: `::double precision * 3600)
      END;`,
    replace: `::double precision * 60)
      END;`,
    tests: ['test/queue/schedules.test.ts'],
  },
  {
    name: "a session's processed videos grow by one per statement, not per job",
    file: sql('add_session_job_counts'),
    find: `SET processed_videos = processed_videos + completed.delta`,
    replace: `SET processed_videos = processed_videos + sign(completed.delta)::integer`,
    tests: ['test/services/session-progress.test.ts', 'test/api/jobs.test.ts'],
  },
  {
    name: "a session's counts take jobs of sessions deleted meanwhile",
    file: sql('add_session_job_counts'),
    find: `AND EXISTS (SELECT 1 FROM processing_sessions s WHERE s.id = c.session_id)`,
    replace: ``,
    tests: ['test/services/session-progress.test.ts', 'test/api/jobs.test.ts'],
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
