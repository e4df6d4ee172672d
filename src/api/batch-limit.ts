/**
 * The most calls one tRPC batch request may hold unless `TRPC_MAX_BATCH_CALLS` allows more. The typed client
 * batches no more than this, so it works with every limit the configuration accepts.
 */
export const defaultMaxBatchCalls = 50;
