import type { Config } from '../config.ts';
import type { Store } from '../store/database.ts';
import type { Repositories } from '../store/repositories.ts';
import type { SecretBox } from '../crypto/secret-box.ts';
import { sessionsService } from './sessions.ts';
import { TokenCache } from './token-cache.ts';
import { listenForAuthChanges } from '../store/notifications.ts';
import { usersService } from './users.ts';
import { externalOauthApplicationsService } from './external-oauth-applications.ts';
import { userStatesService } from './user-states.ts';
import { createWriteBatcher } from '../store/write-batcher.ts';
import { noopMetrics, type Metrics } from '../metrics/metrics.ts';
import { auditService } from './audit.ts';
import { externalOauthTokensService } from './external-oauth-tokens.ts';
import { oauthConnectService } from './oauth-connect.ts';
import { providerResolver } from '../oauth/provider.ts';
import { DEFAULT_MAX_RESPONSE_BYTES } from '../oauth/outbound.ts';
import type { ScryptCost } from '../crypto/password.ts';

/** Failed logins per client_id per window recorded one by one before they are only counted. */
const FAILED_LOGIN_EVENTS = 5;

interface ServiceLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

interface ServiceDeps {
  config: Config;
  store: Store;
  repos: Repositories;
  secretBox: SecretBox;
  metrics?: Metrics;
  log?: ServiceLog;
  /** Where errors of background work go (the server's log). */
  onBackgroundError?: (error: unknown) => void;
  /** Tests only (server.ts `scryptCost`): the production cost when unset. */
  scryptCost?: ScryptCost;
}

export function createServices(deps: ServiceDeps) {
  const metrics = deps.metrics ?? noopMetrics;
  // One cache per process, shared by the service that fills it and the one whose changes revoke access.
  const tokenCache = new TokenCache({ ...deps.config.tokenCache, metrics });
  // On PostgreSQL, other instances' revocations arrive as notifications; the cache passes every lookup
  // through to the database whenever it cannot hear them (store/notifications.ts).
  const authChanges =
    deps.store.engine === 'postgres' && deps.config.databaseUrl && tokenCache.enabled
      ? listenForAuthChanges(deps.config.databaseUrl, tokenCache, { log: deps.log })
      : null;
  if (authChanges) tokenCache.useFence(() => authChanges.sync());
  // Group commit for the hot writes (store/write-batcher.ts); exposed so tests can see batches form.
  const writes = createWriteBatcher(deps.store.db, deps.store.engine, { maxBatch: deps.config.writeBatchMax, metrics, walSync: deps.store.walSync });
  // Every change writes its audit event in its own transaction (services/audit.ts).
  const audit = auditService(deps.repos, writes, {
    retentionDays: deps.config.auditRetentionDays,
    failedLoginEvents: FAILED_LOGIN_EVENTS,
    failedLoginWindowS: deps.config.loginGuard.windowS,
    onBackgroundError: deps.onBackgroundError,
  });
  // Every call to an external system: bounded in time and size (oauth/outbound.ts).
  const outbound = { timeoutMs: deps.config.oauth.providerTimeoutMs, maxResponseBytes: DEFAULT_MAX_RESPONSE_BYTES };
  // One per process, so discovery documents are cached once for every flow.
  const providers = providerResolver({ ...outbound, allowInsecure: deps.config.oauth.allowInsecureProviders });
  const applications = externalOauthApplicationsService(
    deps.repos,
    deps.secretBox,
    writes,
    audit,
    { allowInsecureProviders: deps.config.oauth.allowInsecureProviders },
    { secretOverlapS: deps.config.tokens.secretOverlapS },
  );
  return {
    writes,
    audit,
    tokenCache,
    /** Stopped when the app closes (plugins/services.ts). */
    authChanges,
    sessions: sessionsService(deps.repos, { tokenTtlS: deps.config.tokenTtlS, tokenCache, writes, audit, scryptCost: deps.scryptCost }),
    users: usersService(deps.repos, deps.store.engine, tokenCache, writes, audit, deps.scryptCost),
    externalOauthApplications: applications,
    userStates: userStatesService(deps.repos, deps.secretBox, writes, audit),
    providers,
    oauthConnect: oauthConnectService({ config: deps.config, repos: deps.repos, secretBox: deps.secretBox, writes, audit, providers }),
    externalOauthTokens: externalOauthTokensService({
      repos: deps.repos,
      secretBox: deps.secretBox,
      writes,
      audit,
      metrics,
      providers,
      outbound,
      refreshMarginS: deps.config.tokens.refreshMarginS,
      backoffMs: deps.config.tokens.providerBackoffS * 1000,
      deleteApplication: (context, clientId) => applications.delete(context, clientId),
      log: (event) => deps.log?.info(event, 'token revocation at the provider'),
    }),
  };
}

export type Services = ReturnType<typeof createServices>;
