import fp from 'fastify-plugin';
import type { FastifyReply } from 'fastify';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The response carries a secret or a token (login, a new API credential, a broker access token): no
     * cache, shared or private, may keep it. One word on the route: `config: { carriesSecret: true }`.
     */
    carriesSecret?: boolean;
  }
}

/** Sent with every response, whoever answers it (routes, hooks, the error handler, draining, a bad request line). */
export const ALWAYS = { 'x-content-type-options': 'nosniff' } as const;

/** RFC 6749 §5.1: a token response says `Cache-Control: no-store` and, for HTTP/1.0 caches, `Pragma: no-cache`. */
export const SECRET_BEARING = { 'cache-control': 'no-store', pragma: 'no-cache' } as const;

export function setSecurityHeaders(reply: FastifyReply): void {
  reply.headers(ALWAYS);
  if (reply.request.routeOptions.config?.carriesSecret) reply.headers(SECRET_BEARING);
}

export default fp(
  async (app) => {
    app.addHook('onSend', async (_request, reply) => setSecurityHeaders(reply));
  },
  { name: 'response-headers' },
);
