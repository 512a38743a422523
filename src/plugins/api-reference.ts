import type { FastifyInstance } from 'fastify';
import swaggerUi from '@fastify/swagger-ui';

const API_REFERENCE_PREFIX = '/api/4.0/docs';

/**
 * The browsable API reference (Swagger UI, like Looker's API Explorer) at /api/4.0/docs, served from the
 * assets in the @fastify/swagger-ui package: nothing is fetched from elsewhere, by the server or the page.
 * The page's CSP allows scripts and styles from this origin only (Swagger UI's own inline styles apart),
 * requests to this origin only ("Try it out"), and no framing.
 */
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  // Swagger UI's React components set style attributes.
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export default async function apiReference(app: FastifyInstance) {
  // Swagger UI's routes declare no access; the reference is public, like the document it renders.
  app.addHook('onRoute', (route) => {
    route.config = { ...route.config, access: 'public' };
  });
  app.addHook('onSend', async (_request, reply) => {
    reply.header('x-content-type-options', 'nosniff').header('x-frame-options', 'DENY').header('referrer-policy', 'no-referrer');
  });
  await app.register(swaggerUi, {
    routePrefix: API_REFERENCE_PREFIX,
    staticCSP: CSP,
    // No online validator badge: it would send the document to a third party.
    validatorUrl: false,
    uiConfig: { deepLinking: true, persistAuthorization: false, tryItOutEnabled: false },
  });
}
