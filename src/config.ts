import path from 'node:path';
import { parseMasterKeys } from './crypto/secret-box.ts';

/** Everything the service reads from its environment, parsed and validated once at start. */
export interface Config {
  port: number;
  host: string;
  dataDir: string;
  /** `postgres://…` selects PostgreSQL; unset means the embedded SQLite file under `dataDir`. */
  databaseUrl: string | null;
  database: {
    poolMax: number;
    statementTimeoutMs: number;
  };
  redisUrl: string | null;
  /** Prefix of every Redis key this service writes, so it can share a Redis with others (and tests with each other). */
  redisKeyPrefix: string;
  /** Raw `EOA_MASTER_KEY`: `base64key` or `id:base64key,id:base64key` (first = active). */
  masterKey: string | null;
  /** Start even when stored secrets are sealed under key ids the configuration lacks (/readyz says so). */
  allowMissingKeys: boolean;
  bootstrap: { clientId: string; clientSecret: string } | null;
  tokenTtlS: number;
  /** Per-process access-token cache (services/token-cache.ts): entry lifetime (0 = off) and size bound. */
  tokenCache: { ttlMs: number; maxEntries: number };
  /** Most writes sharing one SQLite transaction (store/write-batcher.ts); 1 = one commit per write. */
  writeBatchMax: number;
  /** Base of `documentation_url` and `/versions` URLs; null means "derive from the request". */
  publicUrl: string | null;
  rateLimit: { max: number; windowS: number };
  loginGuard: { max: number; windowS: number };
  /** Days an audit event is kept (0 = forever); older ones are purged in the background. */
  auditRetentionDays: number;
  http: {
    bodyLimitBytes: number;
    requestTimeoutMs: number;
    headersTimeoutMs: number;
    keepAliveTimeoutMs: number;
    /** Passed to fastify's `trustProxy`: false, true, a hop count, or a list of addresses/CIDRs. */
    trustProxy: boolean | number | string[];
    corsOrigins: string[];
  };
  logLevel: string;
  /** Prometheus metrics (plugins/metrics.ts): a separate listener's port, and/or a token for /metrics on the main port. */
  metrics: { port: number | null; token: string | null };
  /** How long start-up waits for the database to answer before giving up (store/wait-for-database.ts). */
  databaseWaitS: number;
  /** The OAuth broker's connect flow (src/oauth/connect.ts). */
  oauth: {
    /** Origins (scheme://host[:port]) besides this service's own that `return_to` may name. */
    returnToOrigins: string[];
    /** Plain http provider URLs beyond loopback hosts (a test or lab setting, never production). */
    allowInsecureProviders: boolean;
    /** The longest any call to an external system may take, answer included. */
    providerTimeoutMs: number;
  };
  /** Handing out users' tokens (src/oauth/refresh.ts). */
  tokens: {
    /** An access token expiring within this many seconds is refreshed before it is handed out. */
    refreshMarginS: number;
    /** After a failed refresh, how long the provider is left alone for that user state (sent as Retry-After). */
    providerBackoffS: number;
    /** How long a client secret replaced by a PATCH stays usable as a fallback. */
    secretOverlapS: number;
  };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

type Env = Record<string, string | undefined>;

/** Parses the environment; throws one ConfigError naming every problem found. */
export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  const read = new EnvReader(env, problems);

  const databaseUrl = read.string('DATABASE_URL');
  if (databaseUrl !== null && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    problems.push('DATABASE_URL must start with postgres:// or postgresql://');
  }
  const redisUrl = read.string('REDIS_URL');
  if (redisUrl !== null && !/^rediss?:\/\//.test(redisUrl)) {
    problems.push('REDIS_URL must start with redis:// or rediss://');
  }
  const masterKey = read.string('EOA_MASTER_KEY');
  if (masterKey !== null) {
    // Checked here so a bad key is reported with every other problem, not at the first seal.
    try {
      parseMasterKeys(masterKey);
    } catch (error) {
      problems.push(`EOA_MASTER_KEY is invalid: ${(error as Error).message}`);
    }
  }
  if (databaseUrl !== null && masterKey === null) {
    problems.push(
      'EOA_MASTER_KEY is required with DATABASE_URL: every instance must seal secrets with the same key ' +
        '(generate one with: node -e "console.log(require(\'crypto\').randomBytes(32).toString(\'base64\'))")',
    );
  }

  const bootstrapClientId = read.string('EOA_BOOTSTRAP_CLIENT_ID');
  const bootstrapClientSecret = read.string('EOA_BOOTSTRAP_CLIENT_SECRET');
  if ((bootstrapClientId === null) !== (bootstrapClientSecret === null)) {
    problems.push('EOA_BOOTSTRAP_CLIENT_ID and EOA_BOOTSTRAP_CLIENT_SECRET must be set together');
  }
  if (bootstrapClientSecret !== null && bootstrapClientSecret.length < 16) {
    problems.push('EOA_BOOTSTRAP_CLIENT_SECRET must be at least 16 characters');
  }

  const publicUrl = read.string('EOA_PUBLIC_URL');
  if (publicUrl !== null && !/^https?:\/\/[^/]+/.test(publicUrl)) {
    problems.push('EOA_PUBLIC_URL must be an absolute http(s) URL');
  }

  const returnToOrigins = read.list('EOA_RETURN_TO_ORIGINS');
  const badOrigins = returnToOrigins.filter((origin) => originOf(origin) !== origin);
  if (badOrigins.length > 0) {
    problems.push(`EOA_RETURN_TO_ORIGINS must list origins such as https://bi.example.com (scheme, host, optional port; no path): ${badOrigins.join(', ')}`);
  }
  const allowInsecureProviders = read.string('EOA_ALLOW_INSECURE_PROVIDERS') ?? 'false';
  if (allowInsecureProviders !== 'true' && allowInsecureProviders !== 'false') {
    problems.push('EOA_ALLOW_INSECURE_PROVIDERS must be true or false');
  }

  const logLevel = read.string('LOG_LEVEL') ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`);

  const metricsPort = read.string('EOA_METRICS_PORT') === null ? null : read.int('EOA_METRICS_PORT', 0, 0, 65535);
  const metricsToken = read.string('EOA_METRICS_TOKEN');
  if (metricsToken !== null && metricsToken.length < 16) problems.push('EOA_METRICS_TOKEN must be at least 16 characters');

  const config: Config = {
    port: read.int('PORT', 19999, 0, 65535),
    host: read.string('HOST') ?? '127.0.0.1',
    dataDir: path.resolve(read.string('EOA_DATA_DIR') ?? './data'),
    databaseUrl,
    database: {
      poolMax: read.int('EOA_DB_POOL_MAX', 10, 1, 1000),
      statementTimeoutMs: read.int('EOA_DB_STATEMENT_TIMEOUT_MS', 15_000, 0, 3_600_000),
    },
    redisUrl,
    redisKeyPrefix: read.string('EOA_REDIS_KEY_PREFIX') ?? 'eoa:',
    masterKey,
    allowMissingKeys: read.bool('EOA_ALLOW_MISSING_KEYS', false),
    bootstrap:
      bootstrapClientId !== null && bootstrapClientSecret !== null
        ? { clientId: bootstrapClientId, clientSecret: bootstrapClientSecret }
        : null,
    tokenTtlS: read.int('EOA_TOKEN_TTL_S', 3600, 1, 31 * 24 * 3600),
    tokenCache: {
      // On by default on both engines: revocation stays exact, since every instance is told of each
      // change (services/token-cache.ts); the bound only caps what SQL typed by hand could leave stale.
      ttlMs: read.int('EOA_TOKEN_CACHE_MS', 60_000, 0, 60_000),
      maxEntries: read.int('EOA_TOKEN_CACHE_MAX', 10_000, 1, 1_000_000),
    },
    writeBatchMax: read.int('EOA_WRITE_BATCH_MAX', 256, 1, 10_000),
    publicUrl: publicUrl?.replace(/\/+$/, '') ?? null,
    rateLimit: {
      max: read.int('EOA_RATE_LIMIT_MAX', 6000, 0, 100_000_000),
      windowS: read.int('EOA_RATE_LIMIT_WINDOW_S', 60, 1, 86_400),
    },
    loginGuard: {
      max: read.int('EOA_LOGIN_GUARD_MAX', 20, 1, 100_000),
      windowS: read.int('EOA_LOGIN_GUARD_WINDOW_S', 60, 1, 86_400),
    },
    auditRetentionDays: read.int('EOA_AUDIT_RETENTION_DAYS', 365, 0, 36_500),
    http: {
      bodyLimitBytes: read.int('EOA_BODY_LIMIT_BYTES', 1024 * 1024, 1024, 64 * 1024 * 1024),
      requestTimeoutMs: read.int('EOA_REQUEST_TIMEOUT_MS', 30_000, 0, 3_600_000),
      headersTimeoutMs: read.int('EOA_HEADERS_TIMEOUT_MS', 10_000, 0, 3_600_000),
      keepAliveTimeoutMs: read.int('EOA_KEEP_ALIVE_TIMEOUT_MS', 72_000, 0, 3_600_000),
      trustProxy: parseTrustProxy(read.string('EOA_TRUST_PROXY'), problems),
      corsOrigins: read.list('EOA_CORS_ORIGINS'),
    },
    logLevel,
    metrics: { port: metricsPort, token: metricsToken },
    databaseWaitS: read.int('EOA_DB_WAIT_S', 60, 0, 3600),
    oauth: {
      returnToOrigins,
      allowInsecureProviders: allowInsecureProviders === 'true',
      providerTimeoutMs: read.int('EOA_PROVIDER_TIMEOUT_MS', 10_000, 100, 300_000),
    },
    tokens: {
      refreshMarginS: read.int('EOA_REFRESH_MARGIN_S', 60, 0, 86_400),
      providerBackoffS: read.int('EOA_PROVIDER_BACKOFF_S', 5, 1, 3600),
      secretOverlapS: read.int('EOA_SECRET_OVERLAP_S', 7 * 24 * 3600, 0, 365 * 24 * 3600),
    },
  };
  if (metricsPort !== null && metricsPort !== 0 && metricsPort === config.port) {
    problems.push('EOA_METRICS_PORT must differ from PORT (use EOA_METRICS_TOKEN to serve /metrics on the main port)');
  }

  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** The origin of an http(s) URL, or null: `https://a.example:8443/x` → `https://a.example:8443`. */
export function originOf(value: string): string | null {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.origin : null;
  } catch {
    return null;
  }
}

function parseTrustProxy(raw: string | null, problems: string[]): Config['http']['trustProxy'] {
  if (raw === null || raw === 'false') return false;
  if (raw === 'true') return true;
  if (/^\d+$/.test(raw)) return Number(raw);
  const list = raw.split(',').map((s) => s.trim()).filter(Boolean);
  if (list.length === 0 || list.some((entry) => !/^[0-9a-fA-F.:/]+$/.test(entry))) {
    problems.push('EOA_TRUST_PROXY must be true, false, a hop count, or a comma-separated list of addresses/CIDRs');
    return false;
  }
  return list;
}

class EnvReader {
  constructor(
    private readonly env: Env,
    private readonly problems: string[],
  ) {}

  string(name: string): string | null {
    const value = this.env[name]?.trim();
    return value ? value : null;
  }

  int(name: string, fallback: number, min: number, max: number): number {
    const raw = this.string(name);
    if (raw === null) return fallback;
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || value < min || value > max) {
      this.problems.push(`${name} must be a whole number from ${min} to ${max} (got "${raw}")`);
      return fallback;
    }
    return value;
  }

  bool(name: string, fallback: boolean): boolean {
    const raw = this.string(name);
    if (raw === null) return fallback;
    if (raw === 'true' || raw === 'false') return raw === 'true';
    this.problems.push(`${name} must be true or false (got "${raw}")`);
    return fallback;
  }

  list(name: string): string[] {
    const raw = this.string(name);
    return raw === null ? [] : raw.split(',').map((s) => s.trim()).filter(Boolean);
  }
}
