import swagger, { type StaticDocumentSpec } from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { openApiDocument } from './openapi';

/** Serves the OpenAPI document at `/openapi.json` and an interactive reference (Swagger UI) at `/docs`. */
export async function registerDocs(app: FastifyInstance): Promise<void> {
  const document = openApiDocument();
  // The same document; the generator and the plugin type OpenAPI with different libraries.
  const specification = { document: document as unknown as StaticDocumentSpec['document'] };
  await app.register(swagger, { mode: 'static', specification });
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: { persistAuthorization: true, displayOperationId: true, tryItOutEnabled: true },
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => document);
}
