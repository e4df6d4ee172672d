import { createRequire } from 'node:module';
import { SpanKind } from '@opentelemetry/api';
import {
  BatchSpanProcessor,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace';
import type { FastifyInstance } from 'fastify';
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app';
import { createClient } from '../../src/client';
import { createTestWorker } from '../support/test-worker';
import { connect } from '../../src/db/connect';
import { channelFactory } from '../../dev/factories';
import { startTelemetry } from '../../src/http/telemetry';
import { flushTraces, telemetryEnabled, traceIds } from '../../src/http/tracing';
import { testDatabase, testPoolSettings } from '../support/database';
import { until } from '../support/until';

/*
 * The SDK as the preload starts it, with its spans kept in memory. In production it starts before the app's
 * modules load; here vitest has loaded some already, so `http` is required once more for the instrumentation to
 * patch it, and the app gets a pool opened after the start, whose driver load lets the instrumentation patch pg.
 */
const exporter = new InMemorySpanExporter();
// Beside it, spans buffered as a production exporter buffers them, sent only when the buffer is flushed.
const buffered = new InMemorySpanExporter();
const sdk = startTelemetry({
  serviceName: 'tubesensei-test',
  spanProcessors: [
    new SimpleSpanProcessor({ exporter }),
    new BatchSpanProcessor({
      exporter: buffered,
      scheduledDelayMillis: 3_600_000,
      maxExportBatchSize: 10_000,
      maxQueueSize: 10_000,
    }),
  ],
});
createRequire(__filename)('node:http');

let db: Knex;
let app: FastifyInstance;
let url: string;
const logLines: Record<string, unknown>[] = [];

beforeAll(async () => {
  db = connect(testDatabase().url, testPoolSettings);
  app = await buildApp({
    db,
    logger: {
      level: 'info',
      mixin: traceIds,
      stream: { write: (line: string) => logLines.push(JSON.parse(line) as Record<string, unknown>) },
    },
    tokens: [],
    production: false,
  });
  url = await app.listen({ host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  await app?.close();
  await db?.destroy();
  await sdk.shutdown();
});

const spans = () => exporter.getFinishedSpans();
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;
const isPg = (span: ReadableSpan) => span.instrumentationScope.name === '@opentelemetry/instrumentation-pg';
const inTrace = (traceId: string) => spans().filter((span) => span.spanContext().traceId === traceId);

describe('traces', () => {
  it('link the handler that ran a job to the enqueue that queued it, with the HTTP and PostgreSQL spans of each', async () => {
    const channel = await channelFactory.create();
    const api = createClient({ url });
    const job = await api.jobs.enqueue.mutate({
      jobType: 'channel_discovery',
      entityType: 'channel',
      entityId: channel.id,
    });

    let handled: { traceparent: string | null } | undefined;
    const worker = createTestWorker({
      url,
      concurrency: 1,
      waitMs: 200,
      tasks: {
        channel_discovery: async (claimed, helpers) => {
          handled = { traceparent: claimed.traceparent };
          await helpers.api.channels.get.query({ id: claimed.entityId });
          return { videosFound: 0, newVideos: 0 };
        },
      },
    });
    worker.start();
    await until(
      async () => (await db('processing_jobs').where({ id: job.id }).first()).status === 'completed',
    );
    await worker.stop();
    await until(() => spans().some((span) => span.name === 'process channel_discovery'));

    // The enqueue: its own span under the API's server span, which continues the client's call; its INSERT under it.
    const enqueue = spans().find((span) => span.name === 'enqueue jobs')!;
    expect(enqueue.kind).toBe(SpanKind.PRODUCER);
    const enqueueTrace = inTrace(enqueue.spanContext().traceId);
    const server = enqueueTrace.find((span) => span.spanContext().spanId === parentOf(enqueue))!;
    expect(server.kind).toBe(SpanKind.SERVER);
    expect(server.attributes['http.route']).toBe('/trpc/:path');
    expect(
      enqueueTrace.some(
        (span) => span.kind === SpanKind.CLIENT && span.spanContext().spanId === parentOf(server),
      ),
    ).toBe(true);
    expect(
      enqueueTrace.filter((span) => isPg(span) && parentOf(span) === enqueue.spanContext().spanId).length,
    ).toBeGreaterThan(0);

    // The job keeps the enqueue's context, and only its claimant sees it.
    const { traceId, spanId } = enqueue.spanContext();
    const stored = `00-${traceId}-${spanId}-01`;
    expect((await db('processing_jobs').where({ id: job.id }).first()).traceparent).toBe(stored);
    expect(handled?.traceparent).toBe(stored);
    expect(Object.keys(await api.jobs.get.query({ id: job.id }))).not.toContain('traceparent');

    // The handler: a trace of its own, linked to the enqueue, with the calls it made and their queries below it.
    const handler = spans().find((span) => span.name === 'process channel_discovery')!;
    expect(handler.kind).toBe(SpanKind.CONSUMER);
    expect(handler.attributes['tubesensei.job.id']).toBe(job.id);
    expect(handler.links.map((link) => link.context)).toEqual([
      expect.objectContaining({ traceId, spanId, isRemote: true }),
    ]);
    expect(handler.spanContext().traceId).not.toBe(traceId);
    const handlerTrace = inTrace(handler.spanContext().traceId);
    const call = handlerTrace.find(
      (span) => span.kind === SpanKind.CLIENT && parentOf(span) === handler.spanContext().spanId,
    )!;
    const served = handlerTrace.find(
      (span) => span.kind === SpanKind.SERVER && parentOf(span) === call.spanContext().spanId,
    )!;
    expect(served.name).toBe('GET /trpc/:path');
    expect(handlerTrace.some((span) => isPg(span))).toBe(true);
  });

  it('put the trace and span ids on the log lines a request writes, beside its request id', async () => {
    const response = await fetch(
      `${url}/trpc/channels.list?input=${encodeURIComponent('{"json":{"limit":1}}')}`,
      {
        headers: { 'x-request-id': 'traced-request-1' },
      },
    );
    expect(response.status).toBe(200);
    const server = spans().find(
      (span) =>
        span.kind === SpanKind.SERVER && span.attributes['tubesensei.request_id'] === 'traced-request-1',
    )!;
    const lines = logLines.filter((line) => line.reqId === 'traced-request-1');
    expect(lines.map((line) => line.msg)).toEqual(expect.arrayContaining(['procedure', 'request']));
    for (const line of lines) expect(line.trace_id).toBe(server.spanContext().traceId);
  });

  it('leave scrapes and health checks out, and trace the requests beside them', async () => {
    for (const path of ['/health', '/ready', '/metrics', '/health?probe=1'])
      await fetch(`${url}${path}`, { headers: { 'x-request-id': `untraced ${path}` } });
    await fetch(`${url}/trpc/channels.list?input=${encodeURIComponent('{"json":{"limit":1}}')}`, {
      headers: { 'x-request-id': 'traced beside them' },
    });
    const served = (requestId: string) =>
      spans().filter(
        (span) => span.kind === SpanKind.SERVER && span.attributes['tubesensei.request_id'] === requestId,
      );
    await until(() => served('traced beside them').length === 1);
    for (const path of ['/health', '/ready', '/metrics', '/health?probe=1'])
      expect(served(`untraced ${path}`)).toEqual([]);
  });

  it('send the spans still buffered when flushed, as the processes do before they exit', async () => {
    await fetch(`${url}/health`);
    await fetch(`${url}/trpc/channels.list?input=${encodeURIComponent('{"json":{"limit":1}}')}`, {
      headers: { 'x-request-id': 'flushed-request' },
    });
    const flushedRequest = () =>
      buffered
        .getFinishedSpans()
        .some(
          (span) =>
            span.kind === SpanKind.SERVER && span.attributes['tubesensei.request_id'] === 'flushed-request',
        );
    await until(() => spans().some((span) => span.attributes['tubesensei.request_id'] === 'flushed-request'));
    expect(flushedRequest()).toBe(false);
    await flushTraces();
    expect(flushedRequest()).toBe(true);
  });

  it.each([
    [{}, false],
    [{ OTEL_TRACES_EXPORTER: 'otlp' }, true],
    [{ OTEL_TRACES_EXPORTER: 'none' }, false],
    [{ OTEL_TRACES_EXPORTER: 'none, console' }, true],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, true],
    [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' }, true],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_TRACES_EXPORTER: 'none' }, false],
    [{ OTEL_TRACES_EXPORTER: 'otlp', OTEL_SDK_DISABLED: 'TRUE' }, false],
    [{ OTEL_SERVICE_NAME: 'api' }, false],
  ])('are on with %o: %s', (env, on) => {
    expect(telemetryEnabled(env)).toBe(on);
  });
});
