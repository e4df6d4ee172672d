import { type Span, type SpanOptions, SpanStatusCode, isSpanContextValid, trace } from '@opentelemetry/api';

/** The queue's spans; they record nothing unless an OpenTelemetry SDK was started (`src/telemetry.ts`). */
const tracer = trace.getTracer('tubesensei.queue');

/** Runs `work` in a span of its own, made active so the queries it sends are its children; ends it either way. */
export function inSpan<T>(name: string, options: SpanOptions, work: (span: Span) => Promise<T>): Promise<T> {
  return tracer.startActiveSpan(name, options, async (span) => {
    try {
      return await work(span);
    } catch (error) {
      span.recordException(error instanceof Error ? error : String(error));
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw error;
    } finally {
      span.end();
    }
  });
}

/** A span's context as the W3C `traceparent` header writes it; null when tracing is off. */
export function traceparentOf(span: Span): string | null {
  const context = span.spanContext();
  if (!isSpanContextValid(context)) return null;
  return `00-${context.traceId}-${context.spanId}-${context.traceFlags.toString(16).padStart(2, '0')}`;
}
