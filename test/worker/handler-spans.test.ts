import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { afterAll, describe, expect, it } from 'vitest';
import { PermanentJobError, type Task } from '../../src/client';
import { createTestWorker } from '../support/test-worker';
import { startTelemetry } from '../../src/http/telemetry';
import { testDatabase } from '../support/database';
import { until } from '../support/until';
import { discoveryJobs, useWorkerApi } from '../support/worker-api';

const exporter = new InMemorySpanExporter();
const sdk = startTelemetry({
  serviceName: 'tubesensei-worker-test',
  spanProcessors: [new SimpleSpanProcessor({ exporter })],
});
afterAll(() => sdk.shutdown());

const api = useWorkerApi();

const handlerSpan = (jobId: string): ReadableSpan | undefined =>
  exporter
    .getFinishedSpans()
    .find(
      (span) => span.name === 'process channel_discovery' && span.attributes['tubesensei.job.id'] === jobId,
    );

/** Runs the queued discovery jobs through a worker started inside a span of the caller's, until each has a span. */
async function runTraced(jobIds: string[], task: Task<'channel_discovery'>) {
  const worker = createTestWorker({
    url: api.url,
    workerId: 'traced-worker',
    concurrency: jobIds.length,
    waitMs: 200,
    tasks: { channel_discovery: task },
  });
  try {
    trace.getTracer('test').startActiveSpan('deploy', (span) => {
      worker.start();
      span.end();
    });
    await until(() => jobIds.every((id) => handlerSpan(id) !== undefined));
  } finally {
    await worker.stop();
  }
  return jobIds.map((id) => handlerSpan(id)!);
}

describe('a handler’s span', () => {
  it('is the root of a trace of its own, says which job, attempt and worker it is, and ends with the handler', async () => {
    const [job] = await discoveryJobs(1);
    const [span] = await runTraced([job!.id], () => ({ ok: true }));

    expect(span!.kind).toBe(SpanKind.CONSUMER);
    expect(span!.parentSpanContext).toBeUndefined();
    const deploy = exporter.getFinishedSpans().find((each) => each.name === 'deploy')!;
    expect(span!.spanContext().traceId).not.toBe(deploy.spanContext().traceId);
    expect(span!.attributes).toMatchObject({
      'messaging.operation.type': 'process',
      'tubesensei.job.id': job!.id,
      'tubesensei.job.type': 'channel_discovery',
      'tubesensei.job.attempt': 1,
      'tubesensei.worker.id': 'traced-worker',
    });
    expect(span!.status.code).not.toBe(SpanStatusCode.ERROR);
  });

  it('ends with an error status and the exception recorded when its handler throws', async () => {
    const [job] = await discoveryJobs(1);
    const [span] = await runTraced([job!.id], () => {
      throw new PermanentJobError('no such channel');
    });

    expect(span!.status.code).toBe(SpanStatusCode.ERROR);
    expect(span!.events.map((event) => [event.name, event.attributes?.['exception.message']])).toEqual([
      ['exception', 'no such channel'],
    ]);
  });

  it('links no enqueue when the traceparent stored with the job names no valid span', async () => {
    const [zeros, unknownVersion] = await discoveryJobs(2);
    const db = testDatabase().db;
    await db('processing_jobs')
      .where({ id: zeros!.id })
      .update({ traceparent: `00-${'0'.repeat(32)}-${'0'.repeat(16)}-01` });
    await db('processing_jobs')
      .where({ id: unknownVersion!.id })
      .update({ traceparent: `ff-${'1'.repeat(32)}-${'1'.repeat(16)}-01` });
    const spans = await runTraced([zeros!.id, unknownVersion!.id], () => null);

    expect(spans.map((span) => span.links)).toEqual([[], []]);
  });
});
