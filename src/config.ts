import { config as loadDotenv } from 'dotenv';
import { z } from 'zod';
import { clientBatchLimits } from './client/typed-client';
import { type ApiToken, roles } from './schemas/roles';

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const token = z.string().min(16, 'tokens must be at least 16 characters');

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  /** A PostgreSQL URL; when absent, an embedded PostgreSQL is started instead. */
  DATABASE_URL: z
    .url({ protocol: /^postgres(ql)?$/, error: 'must be a postgres:// or postgresql:// URL' })
    .optional(),
  /** A direct PostgreSQL URL for LISTEN when DATABASE_URL goes through PgBouncer in transaction mode. */
  DATABASE_LISTEN_URL: z
    .url({ protocol: /^postgres(ql)?$/, error: 'must be a postgres:// or postgresql:// URL' })
    .optional(),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(500).default(20),
  /** How long to wait for a connection (new or from the pool) before failing the call. */
  DATABASE_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(5_000),
  /** Where the embedded PostgreSQL keeps its data between runs. */
  EMBEDDED_POSTGRES_DIR: z.string().min(1).default('.data/postgres'),
  LOG_LEVEL: z.enum(logLevels).default('info'),
  /** `pretty` for people, `json` for log collectors; pretty in development unless set. */
  LOG_FORMAT: z.enum(['pretty', 'json']).optional(),
  /** Logs every SQL statement. */
  DEBUG: z.stringbool().default(false),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65_535).default(3000),
  /** Browser origins allowed to call the API (comma-separated); none when unset, so CORS stays off. */
  CORS_ORIGINS: z
    .string()
    .transform((value) =>
      value
        .split(',')
        .map((origin) => origin.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.url()))
    .default([]),
  /**
   * The most calls one tRPC batch request may hold; a larger batch is rejected with 400. Never below what the
   * typed client puts in one batch; the API's own default (`defaultMaxBatchCalls`) when unset.
   */
  TRPC_MAX_BATCH_CALLS: z.coerce
    .number()
    .int()
    .min(
      clientBatchLimits.maxItems,
      `must be at least ${clientBatchLimits.maxItems}, the typed client's batch`,
    )
    .max(10_000)
    .optional(),
  /** Seconds between scheduler ticks in the API process (due discoveries, pruning); 0 turns it off. */
  SCHEDULER_INTERVAL_SECONDS: z.coerce.number().int().min(0).max(86_400).default(60),
  /** Channels enqueued, or finished jobs pruned, per statement of a scheduler tick. */
  SCHEDULER_BATCH_SIZE: z.coerce.number().int().min(1).max(10_000).default(500),
  /** Finished jobs older than this many days are pruned. */
  JOB_RETENTION_DAYS: z.coerce.number().min(0.001).max(3_650).default(14),
  /** An admin token: when set (or API_TOKENS is), every procedure requires a bearer token. */
  API_TOKEN: token.optional(),
  /** More tokens, each with its role: `worker:<token>,reader:<token>,admin:<token>`. */
  API_TOKENS: z
    .string()
    .transform((value) =>
      value
        .split(',')
        .map((pair) => pair.trim())
        .filter(Boolean)
        .map((pair) => ({
          role: pair.slice(0, pair.indexOf(':')),
          token: pair.slice(pair.indexOf(':') + 1),
        })),
    )
    .pipe(z.array(z.strictObject({ role: z.enum(roles, `must name roles ${roles.join(', ')}`), token })))
    .default([]),
  /**
   * The bearer token a Prometheus scrape of `/metrics` presents. Unset, `/metrics` is open, except with
   * NODE_ENV=production, where it is not served at all.
   */
  METRICS_TOKEN: token.optional(),
});

/** What serving the API adds: in production it never runs open. The scheduler serves nothing, so it needs no token. */
const apiEnvSchema = envSchema.refine(
  (env) => env.NODE_ENV !== 'production' || env.API_TOKEN !== undefined || env.API_TOKENS.length > 0,
  {
    path: ['API_TOKEN'],
    message: 'API_TOKEN (or API_TOKENS) is required when NODE_ENV=production',
  },
);

export type Config = z.infer<typeof envSchema>;

/** Every token the API accepts: `API_TOKEN` as an admin's, then `API_TOKENS`. */
export const apiTokens = (config: Config): ApiToken[] => [
  ...(config.API_TOKEN ? [{ token: config.API_TOKEN, role: 'admin' as const }] : []),
  ...config.API_TOKENS,
];

/** Whether and how `/metrics` is served (see METRICS_TOKEN). */
export const metricsSettings = (config: Config): { token?: string } | undefined => {
  if (config.METRICS_TOKEN) return { token: config.METRICS_TOKEN };
  return config.NODE_ENV === 'production' ? undefined : {};
};

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Validates environment variables against a schema, the one way every entry point does: empty strings count as
 * unset, as they do in most `.env` files, and a bad value throws one ConfigError naming each variable at fault.
 */
export function parseEnvironment<Schema extends z.ZodType>(
  schema: Schema,
  env: NodeJS.ProcessEnv,
  what = 'configuration',
): z.output<Schema> {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const result = schema.safeParse(present);
  if (!result.success) {
    throw new ConfigError(`Invalid ${what}:\n${z.prettifyError(result.error)}`);
  }
  return result.data;
}

/** The settings of a process: the API's (the default) or the scheduler's, validated once. */
export const parseConfig = (env: NodeJS.ProcessEnv, role: 'api' | 'scheduler' = 'api'): Config =>
  parseEnvironment(role === 'api' ? apiEnvSchema : envSchema, env);

/** Reads `.env` when present (real environment variables win), then validates. */
export function loadConfig(role?: 'api' | 'scheduler'): Config {
  loadDotenv({ quiet: true });
  return parseConfig(process.env, role);
}

/** The scheduler's settings from a configuration. */
export const schedulerSettings = (config: Config) => ({
  intervalMs: config.SCHEDULER_INTERVAL_SECONDS * 1_000,
  batchSize: config.SCHEDULER_BATCH_SIZE,
  retentionDays: config.JOB_RETENTION_DAYS,
});
