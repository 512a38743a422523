import fp from 'fastify-plugin';
import { noopMetrics } from '../metrics/metrics.ts';

/**
 * Records every answered request by route *template* (`/api/4.0/users/:user_id`, never the path sent),
 * and the outcome of each login that checked credentials (the login route answers 404 to a wrong secret).
 * Registered at the root, so it also sees 404s for unknown paths, which share the label "unmatched".
 */
export default fp(
  async (app) => {
    if (app.metrics === noopMetrics) return;
    app.addHook('onResponse', async (request, reply) => {
      const route = request.routeOptions.url ?? null;
      app.metrics.request(request.method, route, reply.statusCode, reply.elapsedTime / 1000);
      if (route !== null && request.routeOptions.config.loginGuard) {
        if (reply.statusCode === 200) app.metrics.login('success');
        else if (reply.statusCode === 404) app.metrics.login('failure');
      }
    });
  },
  { name: 'request-metrics', dependencies: ['metrics'] },
);
