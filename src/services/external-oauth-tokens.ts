import { randomBytes } from 'node:crypto';
import type { Repositories } from '../store/repositories.ts';
import type { SecretBox } from '../crypto/secret-box.ts';
import type { WriteBatcher } from '../store/write-batcher.ts';
import type { ExternalOauthApplicationRecord } from '../store/external-oauth-applications-repository.ts';
import type { TokenStateKey } from '../store/token-state-repository.ts';
import { ApiError, notFound } from '../errors.ts';
import { isId } from '../store/values.ts';
import { refreshGrant, type OutboundOptions } from '../oauth/outbound.ts';
import { ProviderSettingsError, type ProviderResolver, type ResolvedProvider } from '../oauth/provider.ts';
import { ProviderError } from '../oauth/provider-errors.ts';
import { NeedsReauth, RefreshUnavailable, StateGone, tokenRefresher, type FreshToken, type ReauthReason } from '../oauth/refresh.ts';
import type { RevocationOutcome } from '../oauth/revoke.ts';
import { probeClientSecret, type CheckResult } from '../oauth/check.ts';
import { openClientSecrets, withSecretFallback, type ClientSecrets } from './client-secret-rotation.ts';
import { userStateTarget, userStateTokenAad } from './user-states.ts';
import type { AuditService } from './audit.ts';
import type { RequestContext } from './request-context.ts';
import { providerRevocation } from './provider-revocation.ts';
import { presentUserState, type UserStateStatus } from './user-state-status.ts';
import { noopMetrics, type Metrics, type ProviderKind, type RefreshOutcome } from '../metrics/metrics.ts';
import type { Caller } from './sessions.ts';

/**
 * Handing out users' tokens for an application, and the status of their states: the service behind
 * `…/{client_id}/access_token`, `…/user_states`, `…/check` and the revocation that a disconnect or an
 * application's deletion does at the provider. Tokens leave only through `accessToken`.
 */

/** What each `needs_reauth` reason tells the user; fixed text of ours, never the provider's. */
const REAUTH_MESSAGES: Record<ReauthReason, string> = {
  invalid_grant: 'The provider no longer accepts this user\'s refresh token (revoked, expired or already used)',
  no_refresh_token: 'The access token has expired and no refresh token is held',
  refresh_token_expired: 'The refresh token has expired',
  refresh_interrupted: 'A refresh was interrupted before its result was stored, and the provider had already spent the refresh token',
};

interface ExternalOauthTokensOptions {
  repos: Repositories;
  secretBox: SecretBox;
  writes: WriteBatcher;
  audit: AuditService;
  metrics?: Metrics;
  providers: ProviderResolver;
  outbound: OutboundOptions;
  /** The applications service's delete (404 when the application is already gone). */
  deleteApplication(context: RequestContext, clientId: string): Promise<void>;
  refreshMarginS: number;
  /** Logs what a revocation did (a code, never a token). */
  log?: (event: { event: string; outcome: string; user_id: string; oauth_application_id: string }) => void;
  /** After a provider failure, how long callers are told to retry later (EOA_PROVIDER_BACKOFF_S). */
  backoffMs: number;
}

export function externalOauthTokensService(options: ExternalOauthTokensOptions) {
  const { repos, secretBox, writes, audit, providers, outbound } = options;
  const tokenAad = (key: TokenStateKey, column: 'access_token' | 'refresh_token') => userStateTokenAad(key.user_id, key.oauth_application_id, column);
  const metrics = options.metrics ?? noopMetrics;

  /** One refresh at the provider, counted by outcome and timed; labels are closed sets, never ids. */
  async function measured<T>(app: ExternalOauthApplicationRecord, call: () => Promise<T>): Promise<T> {
    const provider = providerKind(app.dialect_name);
    const started = process.hrtime.bigint();
    try {
      const result = await call();
      metrics.tokenRefresh(provider, 'success');
      return result;
    } catch (error) {
      metrics.tokenRefresh(provider, refreshOutcome(error));
      throw error;
    } finally {
      metrics.providerRequest(provider, Number(process.hrtime.bigint() - started) / 1e9);
    }
  }

  const refresher = tokenRefresher({
    states: repos.tokenStates,
    writes,
    seal: (value, key, column) => secretBox.seal(value, tokenAad(key, column)),
    open: (sealed, key, column) => secretBox.open(sealed, tokenAad(key, column)),
    instanceId: randomBytes(6).toString('hex'),
    marginMs: options.refreshMarginS * 1000,
    // Both secrets may be tried, each for up to the timeout: the lease outlasts that.
    leaseMs: 2 * outbound.timeoutMs + 5000,
    backoffMs: options.backoffMs,
  });

  async function application(clientId: string): Promise<ExternalOauthApplicationRecord> {
    const app = await repos.externalOauthApplications.findByClientId(clientId);
    if (!app) throw notFound();
    return app;
  }

  /** An admin may name anyone; others only themselves, and another user is a 404 like anything not theirs. */
  function targetUser(caller: Caller, userId: string | undefined): string {
    const target = userId ?? caller.userId;
    // Only the canonical spelling names a user: `01` would reach user 1 through the engines' casts.
    if (!isId(target) || (!caller.isAdmin && target !== caller.userId)) throw notFound();
    return target;
  }

  const secretsOf = (app: ExternalOauthApplicationRecord): ClientSecrets => openClientSecrets(secretBox, app);
  const revocation = providerRevocation({ repos, secretBox, providers, outbound, log: options.log });

  return {
    /** The user's access token, refreshed first when it expires within the margin. */
    async accessToken(context: RequestContext, caller: Caller, clientId: string, userId?: string): Promise<FreshToken> {
      const user = targetUser(caller, userId);
      // One query for the hot path; the application itself is read only when a refresh needs it.
      const { applicationId, state } = await repos.tokenStates.findByClientId(user, clientId);
      if (applicationId === null || state === null) throw notFound();
      let token: FreshToken;
      try {
        token = await refresher.freshToken(state, async () => {
          const app = await repos.externalOauthApplications.findById(applicationId);
          if (!app) throw new StateGone();
          const provider = await providers.resolve(app);
          const secrets = secretsOf(app);
          return (refreshToken) =>
            measured(app, () =>
              withSecretFallback(secrets, (clientSecret) => refreshGrant(provider, { clientId: app.client_id, clientSecret }, refreshToken, outbound)),
            );
        });
      } catch (error) {
        throw toApiError(error);
      }
      // A disclosure is an audit event, committed before the token leaves: one INSERT, so a statement of its
      // own (group commit on SQLite, autocommit on PostgreSQL), not a transaction.
      await writes.runStatement((db) => audit.record(db, context, { action: 'user_state.read_token', targetId: userStateTarget(user, clientId) }));
      return token;
    },

    async status(caller: Caller, clientId: string, userId: string): Promise<UserStateStatus> {
      const user = targetUser(caller, userId);
      const app = await application(clientId);
      const row = await repos.tokenStates.status({ user_id: user, oauth_application_id: app.id });
      if (!row) throw notFound();
      return presentUserState(row);
    },

    async list(clientId: string, page: { limit?: number; offset?: number }): Promise<UserStateStatus[]> {
      const app = await application(clientId);
      const rows = await repos.tokenStates.listStatuses(app.id, { limit: page.limit ?? 100, offset: page.offset ?? 0 });
      return rows.map(presentUserState);
    },

    /**
     * Deletes the user's state here, then revokes its refresh token (or access token) at the provider,
     * best effort. Deleted first, in one statement that hands back the tokens, so the state is gone even if
     * the provider hangs, and a refresh in flight cannot write it back (its compare-and-set finds no row).
     */
    async disconnect(context: RequestContext, caller: Caller, clientId: string, userId: string): Promise<RevocationOutcome> {
      const user = targetUser(caller, userId);
      const app = await application(clientId);
      const state = await writes.run(async (tx) => {
        const deleted = await repos.tokenStates.deleteReturning({ user_id: user, oauth_application_id: app.id }, tx);
        if (deleted) await audit.record(tx, context, { action: 'user_state.delete', targetId: userStateTarget(user, clientId) });
        return deleted;
      });
      if (!state) throw notFound();
      return revocation.revokeOne(app, state);
    },

    /**
     * Deletes an application (its users' states go with it, by cascade) and then revokes every user's
     * tokens at the provider, best effort, a few at a time and within REVOKE_DEADLINE_MS in all: the
     * states are read first, since the delete takes them with it.
     */
    async deleteApplication(context: RequestContext, clientId: string): Promise<void> {
      const app = await application(clientId);
      const states = await revocation.statesOf(app);
      await options.deleteApplication(context, clientId);
      await revocation.revokeAll(app, states);
    },

    /** The credential check (oauth/check.ts), with a word on the previous secret when the current one is refused. */
    async check(clientId: string): Promise<CheckResult> {
      const app = await application(clientId);
      let provider: ResolvedProvider;
      try {
        provider = await providers.resolve(app);
      } catch (error) {
        if (error instanceof ProviderSettingsError) return { client_authentication: 'inconclusive', detail: error.message };
        if (error instanceof ProviderError) return { client_authentication: 'unreachable', detail: `The provider's discovery document could not be read (${error.code}).` };
        throw error;
      }
      const secrets = secretsOf(app);
      const result = await probeClientSecret(provider, { clientId: app.client_id, clientSecret: secrets.current }, outbound);
      if (result.client_authentication !== 'rejected' || secrets.previous === null) return result;
      const previous = await probeClientSecret(provider, { clientId: app.client_id, clientSecret: secrets.previous }, outbound);
      return previous.client_authentication === 'ok'
        ? {
            client_authentication: 'rejected',
            detail: `${result.detail} The previous secret, kept until ${app.previous_client_secret_expires_at}, is still accepted: register the new secret at the provider before then.`,
          }
        : result;
    },

    /** Refreshes in flight in this process (tests). */
    get refreshesInFlight() {
      return refresher.inFlight;
    },
  };
}

/** The refresher's outcomes as the API answers them. */
function toApiError(error: unknown): unknown {
  if (error instanceof NeedsReauth) {
    return new ApiError('conflict', `${REAUTH_MESSAGES[error.reason] ?? REAUTH_MESSAGES.invalid_grant}: the user must connect to the application again.`);
  }
  if (error instanceof RefreshUnavailable) {
    return new ApiError(error.code === 'timeout' || error.code === 'busy' ? 'gateway_timeout' : 'bad_gateway', undefined, [], {
      'retry-after': String(error.retryAfterS),
    });
  }
  if (error instanceof ProviderSettingsError) return new ApiError('conflict', `${error.message} (the token cannot be refreshed until then)`);
  if (error instanceof StateGone) return notFound();
  return error;
}


function providerKind(dialectName: string | null): ProviderKind {
  if (dialectName === 'snowflake' || dialectName === 'databricks') return dialectName;
  return dialectName === 'bigquery_standard_sql' ? 'bigquery' : 'generic';
}

function refreshOutcome(error: unknown): RefreshOutcome {
  if (!(error instanceof ProviderError)) return 'provider_error';
  if (error.code === 'invalid_grant') return 'invalid_grant';
  return error.code === 'unreachable' || error.code === 'timeout' ? 'network_error' : 'provider_error';
}
