import { createHash } from 'node:crypto';
import swagger, { type StaticDocumentSpec } from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import type { OpenAPIObject } from 'trpc-to-openapi';

/** The one inline style Swagger UI writes, the colours of its logo's SVG: allowed by its hash, and only it. */
const logoStyle = '.logo_small_svg__cls-2{fill:#fff}.logo_small_svg__cls-3{fill:#85ea2d}';

/**
 * What the reference page may load and do: its own scripts, styles, images and fonts, calls to this server, and
 * nothing else; no inline script, no plugin, no form posted anywhere, no framing by another site. The page holds
 * a bearer token while it is open, so nothing from elsewhere may run beside it.
 */
export const docsContentSecurityPolicy = {
  'default-src': ["'none'"],
  'script-src': ["'self'"],
  'style-src': ["'self'", `'sha256-${createHash('sha256').update(logoStyle).digest('base64')}'`],
  'img-src': ["'self'", 'data:'],
  'font-src': ["'self'"],
  'connect-src': ["'self'"],
  'base-uri': ["'none'"],
  'form-action': ["'none'"],
  'frame-ancestors': ["'none'"],
  'object-src': ["'none'"],
};

/** Serves the OpenAPI document at `/openapi.json` and an interactive reference (Swagger UI) at `/docs`. */
export async function registerDocs(app: FastifyInstance, document: OpenAPIObject): Promise<void> {
  // The same document; the generator and the plugin type OpenAPI with different libraries.
  const specification = { document: document as unknown as StaticDocumentSpec['document'] };
  await app.register(swagger, { mode: 'static', specification });
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    staticCSP: docsContentSecurityPolicy,
    // The token a reader authorizes with lives as long as the page: none is written to the browser's storage.
    // The document is not sent to an outside validator either.
    uiConfig: {
      persistAuthorization: false,
      displayOperationId: true,
      tryItOutEnabled: true,
      validatorUrl: null,
    },
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => document);
}
