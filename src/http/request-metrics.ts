import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { noopMetrics } from '../metrics/metrics.ts';

/**
 * Records every answered request by route *template* (`/api/4.0/users/:user_id`, never the path sent),
 * and the outcome of each login that checked credentials (the login route answers 404 to a wrong secret).
 * Called from the request log's onResponse hook (request-log.ts), registered at the root, so it also sees
 * 404s for unknown paths, which share the label "unmatched"; one hook per request instead of two. Null
 * when metrics are off, so nothing at all runs for them then.
 */
export function requestMetricsRecorder(app: FastifyInstance): ((request: FastifyRequest, reply: FastifyReply) => void) | null {
  const metrics = app.metrics;
  if (metrics === noopMetrics) return null;
  return (request, reply) => {
    const route = request.routeOptions.url ?? null;
    metrics.request(request.method, route, reply.statusCode, reply.elapsedTime / 1000);
    if (route !== null && request.routeOptions.config.loginGuard) {
      if (reply.statusCode === 200) metrics.login('success');
      else if (reply.statusCode === 404) metrics.login('failure');
    }
  };
}
