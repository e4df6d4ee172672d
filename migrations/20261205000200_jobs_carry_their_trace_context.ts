import type { Knex } from 'knex';

/*
 * A job remembers the trace that enqueued it, so the span of the handler that runs it, in another process and
 * perhaps hours later, can link back to it: one trace then leads from a discovery call to the jobs it enqueued and
 * on to the handlers that ran them. The context is stored as the W3C `traceparent` header writes it (version, trace
 * id, parent span id, flags), the form every OpenTelemetry SDK reads. It is null when tracing is off. Only the claim
 * hands it out, to the worker that runs the job; nothing filters or sorts on it, so no index.
 */

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE processing_jobs
      ADD COLUMN traceparent text
        CONSTRAINT processing_jobs_traceparent_check
        CHECK (traceparent ~ '^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$');
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE processing_jobs DROP COLUMN traceparent;`);
}
