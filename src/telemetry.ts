import path from 'node:path';
import { config as loadDotenv } from 'dotenv';
import { telemetryEnabled } from './http/tracing';

/**
 * Preloaded (`--import`) by `npm start`, `npm run dev` and `npm run worker`, so that OpenTelemetry patches
 * http, undici and pg before the app loads them. With no `OTEL_*` variable asking for traces it loads nothing
 * more; `.env` is read here first, so the variables may live there too.
 */

/** Each entry point's `service.name`, unless `OTEL_SERVICE_NAME` says otherwise. */
const services: Record<string, string> = {
  main: 'tubesensei-api',
  'demo-worker': 'tubesensei-worker',
};

loadDotenv({ quiet: true });
if (telemetryEnabled(process.env)) {
  const entry = path.basename(process.argv[1] ?? '', path.extname(process.argv[1] ?? ''));
  // A require, not an import: the SDK loads only when tracing is on, and before the app, which a dynamic
  // import() would not wait for.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { startTelemetry } = require('./http/telemetry') as typeof import('./http/telemetry');
  startTelemetry({ serviceName: services[entry] ?? 'tubesensei' });
}
