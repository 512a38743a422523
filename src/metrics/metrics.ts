/**
 * What the service records about itself. Code calls these methods without knowing who, if anyone, scrapes
 * the figures: `noopMetrics` (the default, when no metrics endpoint is configured) drops everything, and
 * prometheus-metrics.ts turns them into Prometheus series.
 *
 * Every label value is chosen by the service, never by a caller: a route *template* (or "unmatched"), an
 * HTTP method from a closed list, a status code, and the closed unions below. Ids, client_ids, paths and
 * anything else a request carries never become a label (they would also make the series count unbounded).
 */
type LoginOutcome = 'success' | 'failure';
type WriteOutcome = 'committed' | 'failed';
type TokenCacheResult = 'hit' | 'miss';
/** The broker's provider kinds (presets by dialect), `generic` for any other authorization server. */
export type ProviderKind = 'snowflake' | 'databricks' | 'bigquery' | 'generic';
export type RefreshOutcome = 'success' | 'invalid_grant' | 'provider_error' | 'network_error';

/** PostgreSQL pool usage, read at scrape time (pg.Pool's counts). */
export interface PoolUsage {
  total: number;
  idle: number;
  waiting: number;
  max: number;
}

export interface Metrics {
  /** One finished HTTP request; `route` is the matched route's template, null when nothing matched. */
  request(method: string, route: string | null, status: number, seconds: number): void;
  /** A login that checked credentials: 200 is a success, a wrong secret (404) a failure. */
  login(outcome: LoginOutcome): void;
  /** The login guard answered 429 (too many failures for one address or client_id). */
  loginGuardTrip(): void;
  /** The per-caller request limit answered 429. */
  rateLimitRejection(): void;
  /** One group-commit transaction (store/write-batcher.ts): how many writes shared it, how long it took. */
  writeBatch(size: number, seconds: number, outcome: WriteOutcome): void;
  /** An access-token lookup in the per-process cache (only while the cache is on). */
  tokenCache(result: TokenCacheResult): void;
  /** Broker: one token refresh against a provider, by outcome. */
  tokenRefresh(provider: ProviderKind, outcome: RefreshOutcome): void;
  /** Broker: the time one request to a provider's token endpoint took. */
  providerRequest(provider: ProviderKind, seconds: number): void;
  /** Gauges read when scraped, from state that other modules own. */
  watchPool(read: () => PoolUsage | null): void;
  /** `read` answers true while rate-limit counting runs in process memory because Redis is unreachable. */
  watchRedisFallback(read: () => boolean): void;
  /** `read` answers the number of log lines the log destination has dropped since start. */
  watchDroppedLogLines(read: () => number): void;
}

const nothing = () => {};

/** Records nothing: the default, so code can always call `metrics.*` at no cost. */
export const noopMetrics: Metrics = {
  request: nothing,
  login: nothing,
  loginGuardTrip: nothing,
  rateLimitRejection: nothing,
  writeBatch: nothing,
  tokenCache: nothing,
  tokenRefresh: nothing,
  providerRequest: nothing,
  watchPool: nothing,
  watchRedisFallback: nothing,
  watchDroppedLogLines: nothing,
};
