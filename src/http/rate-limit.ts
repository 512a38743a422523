import fp from 'fastify-plugin';
import type { FastifyRequest } from 'fastify';
import { ApiError } from '../errors.ts';
import { clientAddressKey } from './client-address.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** `false` exempts a route from the per-caller limit (health probes, which a load balancer must always reach). */
    rateLimit?: false;
  }
}

/**
 * Per-caller request limit (EOA_RATE_LIMIT_MAX per EOA_RATE_LIMIT_WINDOW_S; 0 = off). Runs after the auth
 * hook, so a request with a token counts against the user who logged in, whichever address it comes from
 * (an admin's `login/{user_id}` token counts against the admin, who is the one sending it); a request
 * without one counts against its client address (`request.ip`, which honours EOA_TRUST_PROXY; see
 * client-address.ts). A request the auth hook rejects (401) is not counted: it ends before this hook runs.
 *
 * Every counted response carries `x-ratelimit-limit`, `x-ratelimit-remaining` and `x-ratelimit-reset`
 * (seconds until the window ends); a 429 adds `Retry-After` with the same number of seconds.
 */
export default fp(
  async (app) => {
    const { max, windowS } = app.config.rateLimit;
    if (max === 0) return;
    const windowMs = windowS * 1000;

    app.addHook('onRequest', async (request, reply) => {
      if (request.routeOptions.config?.rateLimit === false) return;
      const { count, resetMs } = await app.counters.hit(callerKey(request), windowMs);
      const resetS = String(Math.max(1, Math.ceil(resetMs / 1000)));
      reply
        .header('x-ratelimit-limit', String(max))
        .header('x-ratelimit-remaining', String(Math.max(0, max - count)))
        .header('x-ratelimit-reset', resetS);
      if (count > max) app.metrics.rateLimitRejection();
      if (count > max) throw new ApiError('rate_limited', undefined, [], { 'retry-after': resetS });
    });
  },
  { name: 'rate-limit', dependencies: ['counters', 'auth'] },
);

function callerKey(request: FastifyRequest): string {
  return request.caller ? `rate:user:${request.caller.principalUserId}` : `rate:ip:${clientAddressKey(request.ip)}`;
}
