import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Metrics, PoolUsage } from './metrics.ts';

/** Methods outside this list (Node's parser accepts some 30) share one label value. */
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** Requests that matched no route (404s, scanners) share one series instead of one per path tried. */
const UNMATCHED_ROUTE = 'unmatched';

export interface PrometheusMetrics extends Metrics {
  readonly registry: Registry;
}

/**
 * Metrics as Prometheus series in a registry of this app's own (not prom-client's global one), so two
 * apps in one process (tests) never share or double-register a series. Names carry the `eoa_` prefix;
 * the process's own figures (CPU, memory, event-loop delay, handles) come from prom-client's defaults.
 */
export function prometheusMetrics(): PrometheusMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'eoa_' });
  const registers = [registry];

  const requests = new Counter({
    name: 'eoa_http_requests_total',
    help: 'HTTP requests answered, by method, route template and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers,
  });
  const requestSeconds = new Histogram({
    name: 'eoa_http_request_duration_seconds',
    help: 'Time from receiving a request to sending its response, by method, route template and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  const logins = new Counter({
    name: 'eoa_logins_total',
    help: 'Logins that checked credentials, by outcome (failure: wrong or disabled credentials)',
    labelNames: ['outcome'] as const,
    registers,
  });
  const guardTrips = new Counter({
    name: 'eoa_login_guard_trips_total',
    help: 'Logins refused with 429 by the login guard (too many failures for an address or client_id)',
    registers,
  });
  const rateLimited = new Counter({
    name: 'eoa_rate_limit_rejections_total',
    help: 'Requests refused with 429 by the per-caller request limit',
    registers,
  });
  const batchSize = new Histogram({
    name: 'eoa_write_batch_size',
    help: 'Writes sharing one group-commit transaction (always 1 on PostgreSQL)',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
    registers,
  });
  const commitSeconds = new Histogram({
    name: 'eoa_write_commit_duration_seconds',
    help: 'Time one write transaction (a group-commit batch on SQLite) took, BEGIN to COMMIT, by outcome',
    labelNames: ['outcome'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers,
  });
  const tokenCache = new Counter({
    name: 'eoa_token_cache_lookups_total',
    help: 'Access-token lookups in the per-process cache, by result (hit: no database round trip)',
    labelNames: ['result'] as const,
    registers,
  });
  const refreshes = new Counter({
    name: 'eoa_token_refreshes_total',
    help: 'Token refreshes against providers, by provider kind and outcome',
    labelNames: ['provider', 'outcome'] as const,
    registers,
  });
  const providerSeconds = new Histogram({
    name: 'eoa_provider_request_duration_seconds',
    help: "Time a request to a provider's token endpoint took, by provider kind",
    labelNames: ['provider'] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  // Series that exist only where they mean something (the pool with PostgreSQL, the fallback with Redis)
  // are created when a module asks to be watched, so a SQLite instance shows no empty pool. Watching
  // twice keeps the first reader.
  const watched = (name: string) => registry.getSingleMetric(name) !== undefined;

  return {
    registry,
    request(method, route, status, seconds) {
      const labels = { method: METHODS.has(method) ? method : 'other', route: route ?? UNMATCHED_ROUTE, status: String(status) };
      requests.inc(labels);
      requestSeconds.observe(labels, seconds);
    },
    login: (outcome) => logins.inc({ outcome }),
    loginGuardTrip: () => guardTrips.inc(),
    rateLimitRejection: () => rateLimited.inc(),
    writeBatch(size, seconds, outcome) {
      batchSize.observe(size);
      commitSeconds.observe({ outcome }, seconds);
    },
    tokenCache: (result) => tokenCache.inc({ result }),
    tokenRefresh: (provider, outcome) => refreshes.inc({ provider, outcome }),
    providerRequest: (provider, seconds) => providerSeconds.observe({ provider }, seconds),
    watchPool(read: () => PoolUsage | null) {
      if (watched('eoa_db_pool_connections')) return;
      new Gauge({
        name: 'eoa_db_pool_connections',
        help: 'PostgreSQL pool connections by state (busy: checked out; idle: open, unused), and the configured max',
        labelNames: ['state'] as const,
        registers,
        collect() {
          const usage = read();
          if (!usage) return;
          this.set({ state: 'busy' }, usage.total - usage.idle);
          this.set({ state: 'idle' }, usage.idle);
          this.set({ state: 'max' }, usage.max);
        },
      });
      new Gauge({
        name: 'eoa_db_pool_waiting',
        help: 'Queries waiting for a PostgreSQL pool connection',
        registers,
        collect() {
          this.set(read()?.waiting ?? 0);
        },
      });
    },
    watchRedisFallback(read) {
      if (watched('eoa_redis_fallback')) return;
      new Gauge({
        name: 'eoa_redis_fallback',
        help: '1 while rate-limit counters run in process memory because Redis is unreachable, else 0',
        registers,
        collect() {
          this.set(read() ? 1 : 0);
        },
      });
    },
    watchDroppedLogLines(read) {
      if (watched('eoa_log_lines_dropped_total')) return;
      new Counter({
        name: 'eoa_log_lines_dropped_total',
        help: 'Log lines the log destination could not write and dropped',
        registers,
        collect() {
          // The destination owns the count; the counter only mirrors it at scrape time.
          this.reset();
          this.inc(read());
        },
      });
    },
  };
}
