import { existsSync } from 'node:fs';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type ApiToken, roleOf, unauthenticatedMessage } from '../api/access';

/** Where `npm run build` writes the dashboard (admin/vite.config.mts): dist/admin, beside dist/src once compiled. */
export const adminAssetsDir = path.resolve(
  __dirname,
  ...(path.extname(__filename) === '.js' ? ['..', '..', 'admin'] : ['..', '..', 'dist', 'admin']),
);

/**
 * What the dashboard may load and do: its own script and style files, calls to this server, nothing inline and
 * nothing from elsewhere. The page holds a bearer token while it is open, so nothing else may run beside it.
 */
export const adminContentSecurityPolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ');

/** Built files carry a hash of their content in their name: a browser may keep them for good. */
const hashedAsset = /[\\/]assets[\\/][^\\/]+-[A-Za-z0-9_-]{8,}\.(js|css)$/;

/**
 * Serves the operator's dashboard at `/admin` (its source in admin/), under its own content security policy,
 * and `/admin/role`, which tells the page the role of the token it holds so it offers only what that role may
 * do. Every change the page makes goes through the API, which checks the role again.
 */
export async function registerAdmin(
  app: FastifyInstance,
  options: { tokens: readonly ApiToken[]; assetsDir?: string },
): Promise<void> {
  const assetsDir = options.assetsDir ?? adminAssetsDir;
  await app.register(async (scope) => {
    scope.addHook('onSend', async (_request, reply) => {
      reply.header('content-security-policy', adminContentSecurityPolicy);
    });

    scope.get('/admin/role', async (request, reply) => {
      reply.header('cache-control', 'no-store');
      if (options.tokens.length === 0) return { role: 'admin', tokensRequired: false };
      const role = roleOf(request.headers.authorization, options.tokens);
      if (role === undefined)
        return reply.code(401).send({ code: 'UNAUTHORIZED', message: unauthenticatedMessage });
      return { role, tokensRequired: true };
    });

    if (!existsSync(path.join(assetsDir, 'index.html'))) {
      const notBuilt = async (_request: FastifyRequest, reply: FastifyReply) =>
        reply
          .code(503)
          .type('text/plain')
          .send('The admin dashboard is not built: run npm run build (npm install runs it).');
      scope.get('/admin', notBuilt);
      scope.get('/admin/*', notBuilt);
      return;
    }
    // The page lives at /admin/; /admin leads there.
    scope.get('/admin', (_request, reply) => reply.redirect('/admin/', 301));
    await scope.register(fastifyStatic, {
      root: assetsDir,
      prefix: '/admin/',
      cacheControl: false,
      setHeaders: (reply, filePath) => {
        reply.header(
          'cache-control',
          hashedAsset.test(filePath) ? 'public, max-age=31536000, immutable' : 'no-cache',
        );
      },
    });
  });
}
