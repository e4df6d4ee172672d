import type { IncomingMessage } from 'node:http';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { NodeSDK, type NodeSDKConfiguration } from '@opentelemetry/sdk-node';

/** Requests that come every few seconds and say nothing a trace needs: scrapes and health checks. */
const untracedPaths = new Set(['/metrics', '/health', '/ready']);

const pathOf = (request: IncomingMessage) => (request.url ?? '').split('?', 1)[0]!;

export interface TelemetryOptions {
  /** `service.name` unless `OTEL_SERVICE_NAME` sets it. */
  serviceName: string;
  /** Where spans go; by default, the exporters the `OTEL_*` variables name (OTLP over HTTP unless told). */
  spanProcessors?: NodeSDKConfiguration['spanProcessors'];
}

/**
 * Starts OpenTelemetry's Node SDK with the maintained instrumentations of what TubeSensei speaks: its HTTP server
 * and clients (`http`), the typed client's `fetch` (`undici`) and PostgreSQL (`pg`). The SDK reads every standard
 * `OTEL_*` variable (exporter, endpoint, headers, sampler, propagators, resource). It sends traces only:
 * metrics are served at `/metrics` in Prometheus' format, and logs are written to stdout with the trace ids.
 * Must run before the app's modules load, so that it can patch them (`src/telemetry.ts` does, as a preload).
 */
export function startTelemetry(options: TelemetryOptions): NodeSDK {
  const sdk = new NodeSDK({
    serviceName: process.env.OTEL_SERVICE_NAME ? undefined : options.serviceName,
    spanProcessors: options.spanProcessors,
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (request) => untracedPaths.has(pathOf(request)),
      }),
      new UndiciInstrumentation(),
      // Queries outside any request or job (pool housekeeping, the scheduler's ticks) start no trace of their
      // own. Parameters are never recorded: a lease token is one.
      new PgInstrumentation({ requireParentSpan: true, enhancedDatabaseReporting: false }),
    ],
  });
  sdk.start();
  return sdk;
}
