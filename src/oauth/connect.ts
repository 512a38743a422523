import { createHash, randomBytes } from 'node:crypto';
import * as oauth from 'oauth4webapi';
import { secretAad } from '../crypto/secret-box.ts';
import type { ResolvedProvider } from './provider.ts';

/**
 * The pieces of the authorization-code flow with PKCE (RFC 6749 §4.1, RFC 7636, RFC 9700 §2.1) that hold
 * no state of their own: what the service sends the user to, and what it accepts back.
 */

/** Looker's own callback path; the redirect URI registered at the provider is EOA_PUBLIC_URL + this. */
export const REDIRECT_PATH = '/external_oauth/redirect';

/** RFC 9700 §4.7: short enough to limit a leaked state, long enough for a login with a second factor. */
export const PENDING_TTL_MS = 10 * 60 * 1000;

export function redirectUri(publicUrl: string): string {
  return `${publicUrl}${REDIRECT_PATH}`;
}

/** 256 bits: unguessable, and the only thing that binds a callback to the user who started it. */
export function newState(): string {
  return randomBytes(32).toString('base64url');
}

/** The state is stored only as this: a copy of the table cannot complete anyone's flow. */
export function stateHash(state: string): string {
  return createHash('sha256').update(state).digest('base64url');
}

/** The additional data of a sealed verifier: it opens only in the row of its own state. */
export function codeVerifierAad(hash: string): string {
  return secretAad('oauth_pending_authorizations', hash, 'code_verifier');
}

/** The URL the user's browser is sent to: the provider's own query kept, ours added (S256 only). */
export async function authorizationUrl(
  provider: ResolvedProvider,
  request: { clientId: string; redirectUri: string; state: string; codeVerifier: string },
): Promise<string> {
  const url = new URL(provider.authorizationEndpoint);
  const params = {
    response_type: 'code',
    client_id: request.clientId,
    redirect_uri: request.redirectUri,
    ...(provider.scopes ? { scope: provider.scopes } : {}),
    state: request.state,
    code_challenge: await oauth.calculatePKCECodeChallenge(request.codeVerifier),
    code_challenge_method: 'S256',
    ...provider.authorizationParams,
  };
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  return url.href;
}

export function newCodeVerifier(): string {
  return oauth.generateRandomCodeVerifier();
}

/**
 * Where `return_to` may send the user after connecting: a path on this service, or a URL on this
 * service's origin or one listed in EOA_RETURN_TO_ORIGINS. Anything else would make the callback an open
 * redirector (RFC 9700 §4.11). Returns the absolute URL to store, or null when it is not allowed.
 */
export function allowedReturnTo(value: string, publicUrl: string, origins: string[]): string | null {
  // Control characters and backslashes are read differently by browsers and URL parsers: refuse them.
  if (/[\u0000-\u001f\u007f\\]/.test(value)) return null;
  if (value.startsWith('/')) {
    if (value.startsWith('//')) return null;
    const url = new URL(value, publicUrl);
    return url.origin === new URL(publicUrl).origin ? url.href : null;
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return null;
  }
  if (url.username !== '' || url.password !== '') return null;
  const allowed = [new URL(publicUrl).origin, ...origins];
  return allowed.includes(url.origin) ? url.href : null;
}

/**
 * RFC 9207: the authorization response names its issuer, and it must be the one this flow was started
 * with. A provider known to send `iss` that leaves it out is refused too (RFC 9207 §2.4). When the expected
 * issuer is unknown (explicit endpoints, Snowflake), there is nothing to compare: the state, bound to one
 * application, is the defence.
 */
export function issuerProblem(expected: string | null, received: string | null, required: boolean): 'issuer_mismatch' | null {
  if (expected === null) return null;
  if (received === null) return required ? 'issuer_mismatch' : null;
  return received === expected ? null : 'issuer_mismatch';
}

/** The callback's code as oauth4webapi's code exchange takes it (its validated, branded parameters). */
export function callbackParameters(code: string): URLSearchParams {
  return oauth.validateAuthResponse({ issuer: 'urn:checked-by-the-service' }, { client_id: 'unused' }, new URLSearchParams({ code }), oauth.expectNoState);
}
