import fp from 'fastify-plugin';
import type { FastifyRequest } from 'fastify';
import { ApiError } from '../errors.ts';
import type { Caller } from '../services/sessions.ts';
import { sessionToken } from './session-cookie.ts';

/**
 * Who may call a route is declared with the route (`config: { access }`), never discovered in a handler:
 *   public – no token needed;  user – any logged-in user, a user with no role too (itself, logout);
 *   member – users with a built-in role (User or Admin): what acting on data takes;
 *   admin – users with the Admin role;  self – an admin, or the user named by the route's `:user_id`.
 * Looker answers 404 to a caller without permission, so an endpoint does not reveal that it exists.
 */
export type Access = 'public' | 'user' | 'member' | 'self' | 'admin';

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
    /**
     * Where the caller's access token comes from: the Authorization header (every API route), or the web
     * console's session cookie (console pages only; see session-cookie.ts). One route never takes both.
     */
    tokenFrom?: 'header' | 'cookie';
  }
  interface FastifyRequest {
    caller: Caller | null;
  }
}

/** `Authorization: Bearer X` (the SDKs) or `Authorization: token X` (Looker's docs); any case. */
export function presentedToken(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return null;
  const match = /^(?:bearer|token)\s+([A-Za-z0-9._~+/=-]{1,512})\s*$/i.exec(header);
  return match ? match[1] : null;
}

/** The methods that change nothing (RFC 9110 §9.2.1); every other one is fenced. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export default fp(
  async (app) => {
    app.decorateRequest('caller', null);

    app.addHook('onRequest', async (request) => {
      // Routes that 404 have no config; the not-found handler answers them without asking for a token.
      if (!request.routeOptions.url) return;
      const access = request.routeOptions.config.access ?? 'admin';
      if (access === 'public') return;
      const token = request.routeOptions.config.tokenFrom === 'cookie' ? sessionToken(request) : presentedToken(request);
      // A request that may change state must not act on a revocation not yet heard from another instance;
      // reads are answered from the cache at once (services/token-cache.ts).
      const fenced = !SAFE_METHODS.has(request.method);
      const caller = token === null ? null : await app.services.sessions.authenticate(token, { fenced });
      if (!caller) throw new ApiError('unauthorized');
      request.caller = caller;
      if (caller.isAdmin || access === 'user') return;
      if (access === 'member' && caller.isUser) return;
      const params = request.params as { user_id?: string };
      if (access === 'self' && params.user_id === caller.userId) return;
      throw new ApiError('not_found');
    });
  },
  { name: 'auth', dependencies: ['services'] },
);

/** The caller of a route that is not public; the auth hook guarantees it is set. */
export function callerOf(request: FastifyRequest): Caller {
  if (!request.caller) throw new ApiError('unauthorized');
  return request.caller;
}
