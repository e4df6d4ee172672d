import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import type { Knex } from 'knex';
import type { JobWakeups } from '../queue/wakeups';
import type { ApiToken } from './access';

export interface Context {
  /** The `Authorization` header as sent, if any. */
  authorization: string | undefined;
  /** The tokens a call may present, each with its role; none turns auth off. */
  tokens: readonly ApiToken[];
  /** Hides error details from responses. */
  production: boolean;
  /** The request's logger: every line it writes carries the request id. */
  log: FastifyBaseLogger;
  /** Wakes claims that wait for work. */
  wakeups: JobWakeups;
  /** The app's database: every service call of the request goes to it. */
  db: Knex;
  /** Counts each procedure call for `/metrics`, when the app serves it. */
  observeProcedure?: ObserveProcedure;
}

/** One procedure call ended: its name, the HTTP status its outcome maps to, and how long it took. */
export type ObserveProcedure = (procedure: string, status: number, seconds: number) => void;

export interface ContextSettings {
  db: Knex;
  tokens: readonly ApiToken[];
  production: boolean;
  wakeups: JobWakeups;
  observeProcedure?: ObserveProcedure;
}

/**
 * Aborts when the client goes away before its response is sent, so a claim waiting for work stops waiting (and
 * hands out nothing to a worker that is gone).
 */
export function disconnectSignal(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller.signal;
}

/** The context of one HTTP request, for tRPC and REST calls alike. */
export function contextFor(request: FastifyRequest, settings: ContextSettings): Context {
  return {
    authorization: request.headers.authorization,
    tokens: settings.tokens,
    production: settings.production,
    log: request.log,
    wakeups: settings.wakeups,
    db: settings.db,
    observeProcedure: settings.observeProcedure,
  };
}
