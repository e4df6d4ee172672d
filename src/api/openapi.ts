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
      'procedure at `/trpc/<router>.<name>` for TypeScript clients. When the server runs with `API_TOKEN`, ' +
      'send it as a bearer token (Authorize, above).',
    baseUrl: restPrefix,
    tags: ['channels', 'videos', 'transcripts', 'jobs', 'sessions'],
  });
}
