import { isSpanContextValid, ProxyTracerProvider, trace } from '@opentelemetry/api';
import type { FastifyInstance } from 'fastify';

/**
 * Tracing is on when the standard variables name a trace exporter (`OTEL_TRACES_EXPORTER` other than `none`) or an
 * OTLP endpoint, unless `OTEL_SDK_DISABLED=true`. Nothing set, nothing loaded: the spans the code starts then
 * record nothing, at the cost of a function call.
 */
export function telemetryEnabled(env: NodeJS.ProcessEnv): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false;
  const exporters = (env.OTEL_TRACES_EXPORTER ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  if (exporters.length > 0) return exporters.some((name) => name !== 'none');
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

/**
 * For pino's `mixin`: the ids of the span a log line is written in, under OpenTelemetry's log field names, so a
 * line leads to its trace and a trace to its lines. None outside a span, or with tracing off.
 */
export function traceIds(): { trace_id?: string; span_id?: string } {
  const context = trace.getActiveSpan()?.spanContext();
  return context && isSpanContextValid(context) ? { trace_id: context.traceId, span_id: context.spanId } : {};
}

/**
 * Names each request's server span after its route (`GET /api/videos/{id}`, `POST /trpc/*`) rather than its
 * method alone, and tags it with the request id its log lines carry.
 */
export function traceRequests(app: FastifyInstance): void {
  app.addHook('onRequest', async (request) => {
    const span = trace.getActiveSpan();
    if (!span?.isRecording()) return;
    span.setAttribute('tubesensei.request_id', request.id);
    const route = request.routeOptions.url;
    if (route === undefined) return;
    span.setAttribute('http.route', route);
    span.updateName(`${request.method} ${route}`);
  });
}

/** Sends the spans still buffered, before the process exits; nothing to do with tracing off. */
export async function flushTraces(): Promise<void> {
  const global = trace.getTracerProvider();
  const provider: object = global instanceof ProxyTracerProvider ? global.getDelegate() : global;
  if ('forceFlush' in provider && typeof provider.forceFlush === 'function') await provider.forceFlush();
}
