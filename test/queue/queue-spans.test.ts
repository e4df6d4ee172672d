import { SpanStatusCode, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueueJobs } from '../../src/queue/job-queue';
import { testDatabase } from '../support/database';

// A tracer provider of this file's own, as an SDK started by the process would register.
const exporter = new InMemorySpanExporter();
const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
beforeAll(() => {
  trace.setGlobalTracerProvider(provider);
});
afterAll(async () => {
  trace.disable();
  await provider.shutdown();
});

describe('the span of an enqueue', () => {
  it('counts its jobs, and records a rejected enqueue as an error with its exception', async () => {
    const missing = '00000000-0000-4000-8000-000000000009';
    await expect(
      enqueueJobs(testDatabase().db, [
        { jobType: 'channel_discovery', entityType: 'channel', entityId: missing },
      ]),
    ).rejects.toThrow(missing);
    const [span] = exporter.getFinishedSpans().filter((finished) => finished.name === 'enqueue jobs');
    expect(span!.attributes['tubesensei.job.count']).toBe(1);
    expect(span!.status.code).toBe(SpanStatusCode.ERROR);
    expect(span!.events.map((event) => event.name)).toEqual(['exception']);
  });
});
