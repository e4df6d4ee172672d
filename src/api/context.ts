import type { FastifyBaseLogger, FastifyRequest } from 'fastify';

export interface Context {
  /** The `Authorization` header as sent, if any. */
  authorization: string | undefined;
  /** The token every call must present; undefined when auth is off. */
  apiToken: string | undefined;
  /** Hides error details from answers. */
  production: boolean;
  /** The request's logger: every line it writes carries the request id. */
  log: FastifyBaseLogger;
}

export interface ContextSettings {
  apiToken: string | undefined;
  production: boolean;
}

/** The context of one HTTP request, for tRPC and REST calls alike. */
export function contextFor(request: FastifyRequest, settings: ContextSettings): Context {
  return {
    authorization: request.headers.authorization,
    apiToken: settings.apiToken,
    production: settings.production,
    log: request.log,
  };
}
