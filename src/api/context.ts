import type { FastifyBaseLogger, FastifyRequest } from 'fastify';
import type { ApiToken } from './access';

export interface Context {
  /** The `Authorization` header as sent, if any. */
  authorization: string | undefined;
  /** The tokens a call may present, each with its role; none turns auth off. */
  tokens: readonly ApiToken[];
  /** Hides error details from answers. */
  production: boolean;
  /** The request's logger: every line it writes carries the request id. */
  log: FastifyBaseLogger;
}

export interface ContextSettings {
  tokens: readonly ApiToken[];
  production: boolean;
}

/** The context of one HTTP request, for tRPC and REST calls alike. */
export function contextFor(request: FastifyRequest, settings: ContextSettings): Context {
  return {
    authorization: request.headers.authorization,
    tokens: settings.tokens,
    production: settings.production,
    log: request.log,
  };
}
