import { randomBytes } from 'node:crypto';
import { refreshGrant, type OutboundOptions } from './outbound.ts';
import type { ResolvedProvider } from './provider.ts';
import { ProviderError } from './provider-errors.ts';

/**
 * The credential check: does the provider accept this application's client id and secret? Asked without
 * any user's tokens, by refreshing a refresh token that cannot exist. A token endpoint authenticates the
 * client before it looks at the grant (RFC 6749 §3.2.1, §6), so the answer tells which one it refused:
 * `invalid_grant` means the client got past authentication, `invalid_client` means it did not. Nothing is
 * granted or spent either way.
 */
type ClientAuthentication = 'ok' | 'rejected' | 'unreachable' | 'inconclusive';

export interface CheckResult {
  client_authentication: ClientAuthentication;
  detail: string;
}

/** A refresh token no provider issued: random, and marked as ours if a provider ever logs it. */
function impossibleRefreshToken(): string {
  return `eoa-credential-check-${randomBytes(18).toString('base64url')}`;
}

/** What one probe with one secret says. */
export async function probeClientSecret(
  provider: ResolvedProvider,
  client: { clientId: string; clientSecret: string },
  options: OutboundOptions,
): Promise<CheckResult> {
  try {
    await refreshGrant(provider, client, impossibleRefreshToken(), options);
    return { client_authentication: 'inconclusive', detail: 'The token endpoint accepted a refresh token that was never issued: it does not behave as an OAuth server should.' };
  } catch (error) {
    if (!(error instanceof ProviderError)) throw error;
    return interpret(error, options.timeoutMs);
  }
}

function interpret(error: ProviderError, timeoutMs: number): CheckResult {
  const http = error.status === null ? '' : ` (HTTP ${error.status})`;
  switch (error.code) {
    case 'invalid_grant':
      return { client_authentication: 'ok', detail: 'The token endpoint accepted the client id and secret (it refused only the deliberately invalid refresh token).' };
    case 'invalid_client':
      return { client_authentication: 'rejected', detail: `The token endpoint refused the client id and secret (invalid_client${http}).` };
    case 'unreachable':
      return { client_authentication: 'unreachable', detail: 'The token endpoint could not be reached (connection refused, reset or not resolved).' };
    case 'timeout':
      return { client_authentication: 'unreachable', detail: `The token endpoint did not answer within ${Math.round(timeoutMs / 1000)} s.` };
    case 'server_error':
      return { client_authentication: 'unreachable', detail: `The token endpoint answered with a server error${http}.` };
    default:
      return { client_authentication: 'inconclusive', detail: `The token endpoint answered in a way that says nothing about the client credentials (${error.code}${http}).` };
  }
}
