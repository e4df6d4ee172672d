import { generateOpenApiDocument, type OpenAPIObject } from 'trpc-to-openapi';
import { version } from '../../package.json';
import { appRouter } from './router';

/** Where the REST routes of the procedures are served. */
export const restPrefix = '/api';

/**
 * The OpenAPI 3.1 document of every procedure with a REST route, generated from the procedures' own zod input and
 * answer schemas, so it cannot drift from what the server checks.
 */
export function openApiDocument(): OpenAPIObject {
  return generateOpenApiDocument(appRouter, {
    title: 'TubeSensei API',
    version,
    description:
      'Channels, videos, transcripts, processing jobs and sessions. Every operation here is also a tRPC ' +
      'procedure at `/trpc/<router>.<name>` for TypeScript clients. When the server runs with tokens ' +
      '(`API_TOKEN`, `API_TOKENS`), send one as a bearer token (Authorize, above); each operation names the ' +
      'roles that may call it, and a token of another role is answered 403.',
    securitySchemes: {
      bearer: {
        type: 'http',
        scheme: 'bearer',
        description:
          'A token of one of three roles: `reader` reads; `worker` reads, runs the queue (claim, heartbeat, ' +
          'complete, fail), enqueues jobs, upserts discovered videos and adds transcripts; `admin` may do ' +
          'everything. `API_TOKEN` is an admin token.',
      },
    },
    baseUrl: restPrefix,
    tags: ['channels', 'videos', 'transcripts', 'jobs', 'sessions'],
  });
}
