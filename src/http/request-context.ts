import type { FastifyRequest } from 'fastify';
import type { RequestContext } from '../services/request-context.ts';

/**
 * The request's context for the services that record who acted (services/request-context.ts). Built by
 * the handlers that change something, after the auth hook has set `request.caller`, and only by them: a
 * read pays nothing for it. Build it before the handler's first await: a client that resets its connection
 * meanwhile takes its address with it.
 */
export function requestContext(request: FastifyRequest): RequestContext {
  const caller = request.caller;
  return {
    requestId: request.id,
    // Fastify's `ip` is undefined once the socket is gone (a reset): the event is still written, without it.
    address: request.ip ?? null,
    actor: caller ? { userId: caller.userId, principalUserId: caller.principalUserId } : null,
  };
}
