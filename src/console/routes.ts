import type { FastifyContextConfig } from 'fastify';
import type { Access } from '../http/auth.ts';

/**
 * Options every console route is declared with: who may see it (the same `access` vocabulary as the API,
 * enforced by the same auth hook), the session cookie as the source of the token, and no place in the
 * OpenAPI document (these are pages, not API operations; test/console/console-routes.ts covers them).
 */
export function consoleRoute(access: Exclude<Access, 'self'>, config: FastifyContextConfig = {}) {
  // Pages read their query themselves (a search, a page number, a fixed notice, filters), each value checked
  // where it is used; a link with an extra parameter still opens the page, so the query is left open here
  // (http/closed-query.ts closes it on API routes).
  return { schema: { hide: true, querystring: { type: 'object', additionalProperties: true } }, config: { ...config, access, tokenFrom: 'cookie' as const } };
}
