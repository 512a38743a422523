import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { ERROR_DOCS } from '../errors.ts';
import { publicBase } from '../http/public-url.ts';
import { pingStore } from '../store/database.ts';
import { probeWrite, unavailability } from '../store/availability.ts';
import { errorResponses } from '../schemas/common.ts';

const ApiVersionElement = Type.Object({
  version: Type.String(),
  full_version: Type.String(),
  status: Type.String(),
  swagger_url: Type.String({ format: 'uri-reference' }),
});

const ApiVersion = Type.Object({
  looker_release_version: Type.String(),
  current_version: ApiVersionElement,
  supported_versions: Type.Array(ApiVersionElement),
  api_server_url: Type.String(),
  web_server_url: Type.String(),
});

const API_FULL_VERSION = '4.0.26.12';
const RELEASE_VERSION = '26.12.0';

/** What anyone may read without a token: versions, the OpenAPI document, error docs, health. */
export default async function publicRoutes(app: FastifyInstance) {
  const versions = {
    schema: {
      operationId: 'versions',
      tags: ['ApiAuth'],
      summary: 'Get ApiVersion',
      querystring: Type.Object({ fields: Type.Optional(Type.String({ description: 'Requested fields.' })) }),
      response: { 200: ApiVersion, 429: errorResponses()[429] },
    },
    config: { access: 'public' as const },
    handler: async (request: FastifyRequest) => {
      const base = publicBase(request, app.config.publicUrl);
      const current = { version: '4.0', full_version: API_FULL_VERSION, status: 'current', swagger_url: `${base}/api/4.0/swagger.json` };
      return {
        looker_release_version: RELEASE_VERSION,
        current_version: current,
        supported_versions: [current],
        api_server_url: base,
        web_server_url: base,
      };
    },
  };
  app.get('/versions', versions);
  app.get('/api/versions', { ...versions, schema: { ...versions.schema, hide: true } });
  app.get('/api/4.0/versions', { ...versions, schema: { ...versions.schema, hide: true } });

  for (const path of ['/api/4.0/openapi.json', '/api/4.0/swagger.json']) {
    app.get(path, { schema: { hide: true }, config: { access: 'public' } }, async () => app.swagger());
  }

  app.get('/docs/errors', { schema: { hide: true }, config: { access: 'public' } }, async (_request, reply) => {
    reply
      .header('content-type', 'text/html; charset=utf-8')
      .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'")
      .header('x-content-type-options', 'nosniff')
      .header('x-frame-options', 'DENY')
      .header('referrer-policy', 'no-referrer');
    return errorDocsPage();
  });

  // Health probes are never rate limited: a load balancer that got 429 would take the instance out of rotation.
  app.get('/healthz', { schema: { hide: true }, config: { access: 'public', rateLimit: false } }, async () => ({ status: 'ok' }));

  // The truth about whether this instance can do its work: the port opens only once the store is migrated
  // and the first admin exists (main.ts); after that, the database must answer and accept writes.
  app.get('/readyz', { schema: { hide: true }, config: { access: 'public', rateLimit: false } }, async (_request, reply) => {
    try {
      await pingStore(app.store);
    } catch {
      return reply.code(503).send({ status: 'database unreachable' });
    }
    if (app.writeHealth.outOfSpaceSince) {
      try {
        await app.services.writes.run(probeWrite);
        app.writeHealth.writable();
      } catch (error) {
        return reply.code(503).send({ status: unavailability(error) === 'out_of_space' ? 'database out of space' : 'database cannot write' });
      }
    }
    // Started on purpose without some keys (EOA_ALLOW_MISSING_KEYS): serving, but say what is missing.
    if (app.missingKeyIds.length > 0) return { status: 'degraded', missing_key_ids: app.missingKeyIds };
    return { status: 'ready' };
  });
}

function errorDocsPage(): string {
  const rows = ERROR_DOCS.map(
    (e) => `<section id="${e.status}"><h2>${e.status} ${e.title}</h2><p>${e.text.replace(/`([^`]+)`/g, '<code>$1</code>')}</p></section>`,
  ).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>external-oauth-apps: errors</title>
<style>body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;line-height:1.5}code{background:#f3f3f3;padding:0 .2em}</style>
</head><body><h1>API errors</h1>
<p>Every error body is <code>{"message", "documentation_url"}</code>; a 422 adds <code>errors</code>, one entry per problem: <code>{"field", "code", "message", "documentation_url"}</code> with <code>code</code> <code>missing_field</code> or <code>invalid</code>.</p>
${rows}
</body></html>`;
}
