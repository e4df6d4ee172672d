/** The package's entry point: what another project imports from `tubesensei`. */
export type { AppRouter } from '../api/router';
export { clientBatchLimits, type ClientOptions, createClient, TransportError } from './typed-client';
export * from '../worker';
