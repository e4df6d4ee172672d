import { isSpanContextValid, type Link, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { ClaimedJob } from './types';

/**
 * The runtime's spans come from OpenTelemetry's API alone, which records nothing until the worker's process starts
 * an SDK (`npm run worker` does when the `OTEL_*` variables ask for traces); the package brings no SDK with it.
 */
const tracer = trace.getTracer('tubesensei.worker');

const traceparentPattern = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** A link to the span that enqueued the job, from the `traceparent` the claim hands out with it. */
function enqueuedBy(traceparent: string | null): Link[] {
  const match = traceparent ? traceparentPattern.exec(traceparent) : null;
  if (!match) return [];
  const context = {
    traceId: match[1]!,
    spanId: match[2]!,
    traceFlags: Number.parseInt(match[3]!, 16),
    isRemote: true,
  };
  return isSpanContextValid(context) ? [{ context }] : [];
}

/**
 * Runs a job's handler in a span of its own, linked to the enqueue that queued the job: a trace of its own (a job
 * may run hours after its enqueue, and several times), which the link ties to the trace that enqueued it. The
 * calls the handler makes through the typed client are its children.
 */
export function inHandlerSpan<T>(
  job: ClaimedJob,
  workerId: string,
  handle: () => Promise<T> | T,
): Promise<T> {
  return tracer.startActiveSpan(
    `process ${job.jobType}`,
    {
      kind: SpanKind.CONSUMER,
      root: true,
      links: enqueuedBy(job.traceparent),
      attributes: {
        'messaging.operation.type': 'process',
        'tubesensei.job.id': job.id,
        'tubesensei.job.type': job.jobType,
        'tubesensei.job.attempt': job.attempts,
        'tubesensei.worker.id': workerId,
      },
    },
    async (span) => {
      try {
        return await handle();
      } catch (error) {
        span.recordException(error instanceof Error ? error : String(error));
        span.setStatus({ code: SpanStatusCode.ERROR });
        throw error;
      } finally {
        span.end();
      }
    },
  );
}
