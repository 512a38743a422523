import type { Config } from '../config.ts';
import type { Repositories } from '../store/repositories.ts';
import type { WriteBatcher } from '../store/write-batcher.ts';
import type { SecretBox } from '../crypto/secret-box.ts';
import { ApiError, invalid, notFound } from '../errors.ts';
import { isForeignKeyViolation } from '../store/unique-violation.ts';
import type { Caller } from './sessions.ts';
import { openClientSecrets, withSecretFallback } from './client-secret-rotation.ts';
import { userStateTarget, userStateTokenAad } from './user-states.ts';
import type { TokenColumn } from '../oauth/refresh.ts';
import type { AuditService } from './audit.ts';
import { actingAs, type RequestContext } from './request-context.ts';
import {
  PENDING_TTL_MS,
  allowedReturnTo,
  authorizationUrl,
  callbackParameters,
  codeVerifierAad,
  issuerProblem,
  newCodeVerifier,
  newState,
  redirectUri,
  stateHash,
} from '../oauth/connect.ts';
import { ProviderSettingsError, type ProviderResolver } from '../oauth/provider.ts';
import { DEFAULT_MAX_RESPONSE_BYTES, exchangeCode, type TokenSet } from '../oauth/outbound.ts';
import { ProviderError, type ProviderErrorCode } from '../oauth/provider-errors.ts';

/** Why a callback did not connect the user: each has its own page (api/connect-pages.ts). */
export type ConnectFailureReason =
  | 'missing_state'
  | 'unknown_state'
  | 'expired_state'
  | 'issuer_mismatch'
  | 'not_configured'
  | 'gone'
  | ProviderErrorCode;

export class ConnectFailure extends Error {
  constructor(readonly reason: ConnectFailureReason) {
    super(`connect failed: ${reason}`);
    this.name = 'ConnectFailure';
  }
}

/** An access token without `expires_in` (RFC 6749 says RECOMMENDED, not REQUIRED) is taken to last an hour. */
const DEFAULT_EXPIRES_IN_S = 3600;

export interface CallbackQuery {
  state?: string;
  code?: string;
  error?: string;
  iss?: string;
}

/**
 * Connecting a user to an application's external system: `start` records a pending authorization and
 * answers the provider URL; `complete` takes the provider's answer at /external_oauth/redirect, exchanges
 * the code and stores the tokens as the user's state for that application (what
 * create_oauth_application_user_state writes, replaced). Every failure of `complete` leaves the store as
 * it was, except that the state it consumed stays consumed (single use).
 */
export function oauthConnectService(deps: {
  config: Config;
  repos: Repositories;
  secretBox: SecretBox;
  writes: WriteBatcher;
  audit: AuditService;
  providers: ProviderResolver;
}) {
  const { config, repos, secretBox, writes, audit, providers } = deps;
  const outbound = { timeoutMs: config.oauth.providerTimeoutMs, maxResponseBytes: DEFAULT_MAX_RESPONSE_BYTES };

  function problemsOfStart(returnTo: string | undefined): { publicUrl: string; returnTo: string | null } {
    const publicUrl = config.publicUrl;
    if (publicUrl === null) {
      throw invalid([
        {
          field: 'redirect_uri',
          code: 'missing_field',
          message: 'The service has no public URL: set EOA_PUBLIC_URL, and register EOA_PUBLIC_URL/external_oauth/redirect at the provider.',
        },
      ]);
    }
    if (returnTo === undefined) return { publicUrl, returnTo: null };
    const allowed = allowedReturnTo(returnTo, publicUrl, config.oauth.returnToOrigins);
    if (allowed === null) {
      throw invalid([
        { field: 'return_to', code: 'invalid', message: 'Must be a path on this service, or a URL on an origin listed in EOA_RETURN_TO_ORIGINS.' },
      ]);
    }
    return { publicUrl, returnTo: allowed };
  }

  async function resolveOrExplain(app: Parameters<ProviderResolver['resolve']>[0]) {
    try {
      return await providers.resolve(app);
    } catch (error) {
      if (error instanceof ProviderSettingsError) throw invalid([{ field: 'provider_url', code: 'missing_field', message: error.message }]);
      if (error instanceof ProviderError) {
        throw new ApiError(error.code === 'timeout' ? 'gateway_timeout' : 'bad_gateway', "The provider's discovery document could not be read.");
      }
      throw error;
    }
  }

  function tokenState(userId: string, applicationId: string, tokens: TokenSet) {
    const seal = (token: string, column: TokenColumn) => secretBox.seal(token, userStateTokenAad(userId, applicationId, column));
    const now = Date.now();
    return {
      user_id: userId,
      oauth_application_id: applicationId,
      access_token_sealed: seal(tokens.access_token, 'access_token'),
      access_token_expires_at: new Date(now + (tokens.expires_in ?? DEFAULT_EXPIRES_IN_S) * 1000).toISOString(),
      refresh_token_sealed: tokens.refresh_token === undefined ? null : seal(tokens.refresh_token, 'refresh_token'),
      refresh_token_expires_at: tokens.refresh_token_expires_in === undefined ? null : new Date(now + tokens.refresh_token_expires_in * 1000).toISOString(),
      token_type: tokens.token_type,
      scope: tokens.scope ?? null,
    };
  }

  return {
    /** The caller starts connecting themselves to the application named by `clientId`. */
    async start(caller: Caller, clientId: string, input: { return_to?: string }): Promise<{ authorization_url: string; expires_at: string }> {
      const { publicUrl, returnTo } = problemsOfStart(input.return_to);
      const app = await repos.externalOauthApplications.findByClientId(clientId);
      if (!app) throw notFound();
      const provider = await resolveOrExplain(app);
      const state = newState();
      const hash = stateHash(state);
      const codeVerifier = newCodeVerifier();
      const expiresAt = new Date(Date.now() + PENDING_TTL_MS).toISOString();
      try {
        await repos.pendingAuthorizations.insert({
          state_hash: hash,
          user_id: caller.userId,
          oauth_application_id: app.id,
          code_verifier_sealed: secretBox.seal(codeVerifier, codeVerifierAad(hash)),
          redirect_uri: redirectUri(publicUrl),
          expected_issuer: provider.issuer,
          return_to: returnTo,
          expires_at: expiresAt,
        });
      } catch (error) {
        // The application (or the caller) was deleted since the look-up.
        if (isForeignKeyViolation(error)) throw notFound();
        throw error;
      }
      const url = await authorizationUrl(provider, { clientId: app.client_id, redirectUri: redirectUri(publicUrl), state, codeVerifier });
      return { authorization_url: url, expires_at: expiresAt };
    },

    /**
     * The provider's answer. Resolves with where to send the user (null: show the "connected" page), or
     * throws ConnectFailure saying why not.
     */
    async complete(context: RequestContext, query: CallbackQuery): Promise<{ returnTo: string | null; applicationName: string }> {
      if (!query.state) throw new ConnectFailure('missing_state');
      const pending = await repos.pendingAuthorizations.consume(stateHash(query.state));
      if (!pending) throw new ConnectFailure('unknown_state');
      if (Date.parse(pending.expires_at) <= Date.now()) throw new ConnectFailure('expired_state');
      const app = await repos.externalOauthApplications.findById(pending.oauth_application_id);
      if (!app) throw new ConnectFailure('gone');

      let provider;
      try {
        provider = await providers.resolve(app);
      } catch (error) {
        if (error instanceof ProviderSettingsError) throw new ConnectFailure('not_configured');
        if (error instanceof ProviderError) throw new ConnectFailure(error.code);
        throw error;
      }
      // Checked before the error, so an error relayed through another provider is refused as a mix-up too.
      if (issuerProblem(pending.expected_issuer, query.iss ?? null, provider.issRequired && provider.issuer === pending.expected_issuer)) {
        throw new ConnectFailure('issuer_mismatch');
      }
      if (query.error !== undefined) throw new ConnectFailure(query.error === 'access_denied' ? 'access_denied' : 'rejected');
      if (!query.code) throw new ConnectFailure('malformed');

      const codeVerifier = secretBox.open(pending.code_verifier_sealed, codeVerifierAad(pending.state_hash));
      const grant = { callbackParameters: callbackParameters(query.code), redirectUri: pending.redirect_uri, codeVerifier };
      let tokens: TokenSet;
      try {
        // During a secret rotation's overlap, a provider that still knows only the previous secret refuses the
        // client (invalid_client) before looking at the code, so the code is still good for the retry.
        tokens = await withSecretFallback(openClientSecrets(secretBox, app), (clientSecret) =>
          exchangeCode(provider, { clientId: app.client_id, clientSecret }, grant, outbound),
        );
      } catch (error) {
        if (error instanceof ProviderError) throw new ConnectFailure(error.code);
        throw error;
      }
      try {
        const state = tokenState(pending.user_id, app.id, tokens);
        await writes.run(async (tx) => {
          await repos.userStates.upsert(state, tx);
          // The callback is public: the actor is the user the pending authorization was started for.
          const asUser = actingAs(context, { userId: pending.user_id, principalUserId: pending.user_id });
          await audit.record(tx, asUser, { action: 'user_state.connect', targetId: userStateTarget(pending.user_id, app.client_id) });
        });
      } catch (error) {
        // The user or the application was deleted while the provider answered.
        if (isForeignKeyViolation(error)) throw new ConnectFailure('gone');
        throw error;
      }
      return { returnTo: pending.return_to, applicationName: app.name };
    },

    /** Authorizations nobody completed within their ten minutes; the callback refuses them anyway. */
    purgeExpired(): Promise<number> {
      return repos.pendingAuthorizations.purgeExpired();
    },
  };
}
