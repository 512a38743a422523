import * as oauth from 'oauth4webapi';
import { authorizationServer, requestOptions, type OutboundOptions } from './outbound.ts';
import type { ResolvedProvider } from './provider.ts';
import { ProviderError, tokenEndpointError, type ProviderErrorCode } from './provider-errors.ts';

/**
 * RFC 7009 token revocation, best effort: it is how a disconnect reaches the provider, but a provider that
 * is down, slow or has no revocation endpoint must not stop the local deletion (the tokens are gone from
 * here either way, and expire at the provider in time). So this never throws; it says what happened, as a
 * code for the log.
 */
export type RevocationOutcome = 'revoked' | 'not_supported' | ProviderErrorCode;

interface RevocationRequest {
  token: string;
  hint: 'refresh_token' | 'access_token';
}

/** The client authentication the provider's settings name (the token endpoint's method applies here too). */
function clientAuth(provider: ResolvedProvider, secret: string): oauth.ClientAuth {
  return provider.tokenEndpointAuthMethod === 'client_secret_post' ? oauth.ClientSecretPost(secret) : oauth.ClientSecretBasic(secret);
}

/** One revocation call with one secret; throws ProviderError (so the caller may retry with another secret). */
export async function revocationCall(
  provider: ResolvedProvider,
  client: { clientId: string; clientSecret: string },
  request: RevocationRequest,
  options: OutboundOptions,
): Promise<void> {
  let response: Response;
  try {
    response = await oauth.revocationRequest(
      authorizationServer(provider),
      { client_id: client.clientId },
      clientAuth(provider, client.clientSecret),
      request.token,
      { ...requestOptions(provider, options), additionalParameters: { token_type_hint: request.hint } },
    );
  } catch (error) {
    throw error instanceof ProviderError ? error : new ProviderError('malformed');
  }
  // RFC 7009 §2.2: 200 whether or not the token was valid; errors in RFC 6749 §5.2's shape.
  const text = await response.text();
  if (response.status === 200) return;
  let body: unknown = null;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON: the status alone decides.
  }
  throw tokenEndpointError(response.status, body) ?? new ProviderError('malformed', response.status);
}

/** Runs `attempt` and turns any failure into its outcome code; never throws. */
export async function bestEffortRevocation(provider: ResolvedProvider, attempt: () => Promise<void>): Promise<RevocationOutcome> {
  if (!provider.revocationEndpoint) return 'not_supported';
  try {
    await attempt();
    return 'revoked';
  } catch (error) {
    return error instanceof ProviderError ? error.code : 'malformed';
  }
}
