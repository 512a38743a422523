import type { FastifyContextConfig } from 'fastify';
import type { Access } from '../http/auth.ts';

/**
 * Options every console route is declared with: who may see it (the same `access` vocabulary as the API,
 * enforced by the same auth hook), the session cookie as the source of the token, and no place in the
 * OpenAPI document (these are pages, not API operations; test/console/console-routes.ts covers them).
 */
export function consoleRoute(access: Exclude<Access, 'self'>, config: FastifyContextConfig = {}) {
  // A page reads the parameters it knows (`page`, `q`, `done`…) and ignores the rest, as a browser page
  // should: the API's closed query strings (http/closed-query.ts) guard filters a typo would widen.
  const querystring = { type: 'object', properties: {}, additionalProperties: true };
  return { schema: { hide: true, querystring }, config: { ...config, access, tokenFrom: 'cookie' as const } };
}
