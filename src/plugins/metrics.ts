import http from 'node:http';
import { createHash, timingSafeEqual } from 'node:crypto';
import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config.ts';
import { noopMetrics, type Metrics } from '../metrics/metrics.ts';
import { prometheusMetrics, type PrometheusMetrics } from '../metrics/prometheus-metrics.ts';
import { ApiError } from '../errors.ts';

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Metrics;
    /** `http://host:port/metrics` of the separate metrics listener, once it listens (EOA_METRICS_PORT). */
    metricsUrl: string | null;
  }
}

/**
 * Where Prometheus reads the metrics. Off the public port by default; either or both of:
 * - `EOA_METRICS_PORT`: a separate plain listener on the same host, answering `GET /metrics` only, so
 *   the figures stay on a port the load balancer does not forward;
 * - `EOA_METRICS_TOKEN`: `GET /metrics` on the main port, for `Authorization: Bearer <token>` only
 *   (also required on the separate port when set).
 * With neither, nobody can read metrics, so none are kept: `app.metrics` is the do-nothing recorder.
 */
export default fp(
  async (app: FastifyInstance, { config }: { config: Config }) => {
    const { port, token } = config.metrics;
    const metrics = port !== null || token !== null ? prometheusMetrics() : null;
    app.decorate('metrics', metrics ?? noopMetrics);
    app.decorate('metricsUrl', null);
    if (!metrics) return;

    // The pool and the counters are created by later plugins; read them once all are registered.
    app.addHook('onReady', async () => {
      if (app.store.poolUsage) metrics.watchPool(app.store.poolUsage);
      if (app.counters.usingFallback) metrics.watchRedisFallback(app.counters.usingFallback);
    });

    const authorized = bearerCheck(token);
    if (token !== null) {
      app.get('/metrics', { schema: { hide: true }, config: { access: 'public' } }, async (request: FastifyRequest, reply: FastifyReply) => {
        if (!authorized(request.headers.authorization)) throw new ApiError('unauthorized');
        return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
      });
    }
    if (port !== null) {
      const server = metricsServer(metrics, authorized, (error) => app.log.error({ err: error }, 'metrics: scrape failed'));
      // onReady, not onListen: a port that cannot be bound fails start-up instead of being logged and ignored.
      app.addHook('onReady', async () => {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen({ port, host: config.host }, () => {
            server.off('error', reject);
            resolve();
          });
        });
        const address = server.address() as { address: string; port: number };
        const host = address.address.includes(':') ? `[${address.address}]` : address.address;
        app.metricsUrl = `http://${host}:${address.port}/metrics`;
        app.log.info({ url: app.metricsUrl }, 'metrics listening');
      });
      app.addHook('onClose', async () => {
        if (!server.listening) return;
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      });
    }
  },
  { name: 'metrics' },
);

/** A plain node:http server: no routes, hooks or limits of the API apply to the scrape port. */
function metricsServer(metrics: PrometheusMetrics, authorized: (header: string | undefined) => boolean, onError: (error: unknown) => void) {
  return http.createServer((request, response) => {
    const path = (request.url ?? '').split('?')[0];
    if (path !== '/metrics') return plain(response, 404, 'Not found\n');
    if (request.method !== 'GET' && request.method !== 'HEAD') return plain(response, 405, 'Method not allowed\n', { allow: 'GET, HEAD' });
    if (!authorized(request.headers.authorization)) return plain(response, 401, 'Requires authentication.\n');
    metrics.registry.metrics().then(
      (body) => {
        response.writeHead(200, { 'content-type': metrics.registry.contentType, 'cache-control': 'no-store' });
        response.end(request.method === 'HEAD' ? undefined : body);
      },
      (error) => {
        onError(error);
        plain(response, 500, 'An internal error occurred.\n');
      },
    );
  });
}

function plain(response: http.ServerResponse, status: number, body: string, headers: Record<string, string> = {}) {
  response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
  response.end(body);
}

/**
 * `Authorization: Bearer <token>` compared in constant time: both sides are hashed first, so neither
 * the comparison nor a length check says how much of a guess was right. No token configured: all pass.
 */
function bearerCheck(token: string | null): (header: string | undefined) => boolean {
  if (token === null) return () => true;
  const expected = createHash('sha256').update(token).digest();
  return (header) => {
    const match = typeof header === 'string' ? /^bearer\s+(\S{1,512})\s*$/i.exec(header) : null;
    const presented = createHash('sha256').update(match ? match[1] : '').digest();
    return timingSafeEqual(presented, expected) && match !== null;
  };
}
