import type { Repositories } from '../store/repositories.ts';
import type { SecretBox } from '../crypto/secret-box.ts';
import type { ExternalOauthApplicationRecord } from '../store/external-oauth-applications-repository.ts';
import type { TokenStateKey, TokenStateRow } from '../store/token-state-repository.ts';
import type { OutboundOptions } from '../oauth/outbound.ts';
import type { ProviderResolver, ResolvedProvider } from '../oauth/provider.ts';
import { bestEffortRevocation, revocationCall, type RevocationOutcome } from '../oauth/revoke.ts';
import { openClientSecrets, withSecretFallback } from './client-secret-rotation.ts';
import { userStateTokenAad } from './user-states.ts';

/**
 * Revoking users' tokens at the provider (RFC 7009) after they are deleted here: one state when a user
 * disconnects, every state of an application when it is deleted. Always best effort and after the local
 * deletion, so a provider that is down or slow never keeps a token alive here.
 */

/** Revocations run this many at a time when an application with many users is deleted. */
const REVOKE_CONCURRENCY = 4;
const REVOKE_PAGE = 200;
/** A deleted application's revocations stop being attempted after this long (the delete is done already). */
const REVOKE_DEADLINE_MS = 20_000;

interface ProviderRevocationOptions {
  repos: Repositories;
  secretBox: SecretBox;
  providers: ProviderResolver;
  outbound: OutboundOptions;
  /** Logs what a revocation did (a code, never a token). */
  log?: (event: { event: string; outcome: string; user_id: string; oauth_application_id: string }) => void;
}

export function providerRevocation(options: ProviderRevocationOptions) {
  const { repos, secretBox, providers, outbound } = options;

  async function revoke(app: ExternalOauthApplicationRecord, provider: ResolvedProvider, state: TokenStateRow): Promise<RevocationOutcome> {
    const sealed = state.refresh_token_sealed ?? state.access_token_sealed;
    const hint = state.refresh_token_sealed === null ? 'access_token' : 'refresh_token';
    const token = secretBox.open(sealed, userStateTokenAad(state.user_id, state.oauth_application_id, hint));
    const secrets = openClientSecrets(secretBox, app);
    return bestEffortRevocation(provider, () =>
      withSecretFallback(secrets, (clientSecret) => revocationCall(provider, { clientId: app.client_id, clientSecret }, { token, hint }, outbound)),
    );
  }

  /** The provider of an app for revocation; null when it cannot be resolved (then nothing is revoked). */
  async function providerFor(app: ExternalOauthApplicationRecord): Promise<ResolvedProvider | null> {
    try {
      return await providers.resolve(app);
    } catch {
      return null;
    }
  }

  function logOutcome(state: TokenStateKey, outcome: string) {
    options.log?.({ event: 'user_state_revocation', outcome, user_id: state.user_id, oauth_application_id: state.oauth_application_id });
  }

  return {
    /** Every state of an application with its sealed tokens, read in pages (before a delete takes them). */
    async statesOf(app: ExternalOauthApplicationRecord): Promise<TokenStateRow[]> {
      const all: TokenStateRow[] = [];
      for (let after = '0'; ; ) {
        const page = await repos.tokenStates.statesOfApplication(app.id, after, REVOKE_PAGE);
        all.push(...page);
        if (page.length < REVOKE_PAGE) return all;
        after = page[page.length - 1].user_id;
      }
    },

    /** Revokes one deleted state's refresh token (or access token), and logs the outcome. */
    async revokeOne(app: ExternalOauthApplicationRecord, state: TokenStateRow): Promise<RevocationOutcome> {
      const provider = await providerFor(app);
      const outcome = provider ? await revoke(app, provider, state) : 'not_supported';
      logOutcome(state, outcome);
      return outcome;
    },

    /** Revokes a deleted application's states, a few at a time and within REVOKE_DEADLINE_MS in all. */
    async revokeAll(app: ExternalOauthApplicationRecord, states: TokenStateRow[]): Promise<void> {
      if (states.length === 0) return;
      const provider = await providerFor(app);
      if (!provider?.revocationEndpoint) return;
      const deadline = Date.now() + REVOKE_DEADLINE_MS;
      let next = 0;
      const worker = async () => {
        while (next < states.length) {
          const state = states[(next += 1) - 1];
          logOutcome(state, Date.now() < deadline ? await revoke(app, provider, state) : 'skipped');
        }
      };
      await Promise.all(Array.from({ length: Math.min(REVOKE_CONCURRENCY, states.length) }, worker));
    },
  };
}
