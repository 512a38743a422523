import * as oauth from 'oauth4webapi';
import { ProviderError, tokenEndpointError } from './provider-errors.ts';
import type { ResolvedProvider } from './provider.ts';

/**
 * Every call this service makes to an external system goes through here: a timeout that covers the whole
 * answer (headers and body), a cap on the body, redirects never followed (a token endpoint that redirects
 * is misconfigured or hijacked, and following would resend the client secret elsewhere), and failures
 * turned into ProviderError codes, which carry no text from the provider and no secret.
 */
export interface OutboundOptions {
  timeoutMs: number;
  maxResponseBytes: number;
}

/** Discovery documents run to a few KB, token responses (JWTs included) to tens of KB. */
export const DEFAULT_MAX_RESPONSE_BYTES = 512 * 1024;

type Fetch = (url: string, init: RequestInit) => Promise<Response>;

/** Statuses whose Response may carry no body. */
const NULL_BODY = new Set([101, 204, 205, 304]);

/** A fetch bounded as above; the `customFetch` handed to oauth4webapi, usable on its own too. */
export function boundedFetch(options: OutboundOptions): Fetch {
  return async (url, init) => {
    const timeout = AbortSignal.timeout(options.timeoutMs);
    const signal = init.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
    try {
      const response = await fetch(url, { ...init, redirect: 'manual', signal });
      const body = await readCapped(response, options.maxResponseBytes);
      return new Response(NULL_BODY.has(response.status) ? null : body, { status: response.status, headers: response.headers });
    } catch (error) {
      if (error instanceof ProviderError) throw error;
      throw new ProviderError(timeout.aborted ? 'timeout' : 'unreachable');
    }
  };
}

async function readCapped(response: Response, limit: number): Promise<ArrayBuffer> {
  const declared = Number(response.headers.get('content-length'));
  if (declared > limit) {
    await response.body?.cancel().catch(() => {});
    throw new ProviderError('malformed', response.status);
  }
  if (!response.body) return new ArrayBuffer(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    total += chunk.byteLength;
    if (total > limit) {
      await response.body.cancel().catch(() => {});
      throw new ProviderError('malformed', response.status);
    }
    chunks.push(chunk);
  }
  const all = Buffer.concat(chunks);
  return all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer;
}

/** The options every oauth4webapi request of this service takes. */
export function requestOptions(provider: ResolvedProvider, options: OutboundOptions) {
  return {
    [oauth.customFetch]: boundedFetch(options),
    // The endpoints were validated when stored: https, or http only where the operator allowed it.
    [oauth.allowInsecureRequests]: provider.allowInsecure,
  };
}

/** The client as an oauth4webapi token endpoint call needs it. */
interface ClientCredentials {
  clientId: string;
  clientSecret: string;
}

/** A successful token endpoint answer, as the service keeps it. */
export interface TokenSet {
  access_token: string;
  token_type: string;
  /** Seconds; absent when the provider did not say. */
  expires_in?: number;
  refresh_token?: string;
  /** Snowflake's lifetime of the refresh token, in seconds. */
  refresh_token_expires_in?: number;
  scope?: string;
}

export function authorizationServer(provider: ResolvedProvider): oauth.AuthorizationServer {
  return {
    // oauth4webapi keys its checks on an issuer; a provider without one (Snowflake) is named by its token endpoint.
    issuer: provider.issuer ?? provider.tokenEndpoint,
    authorization_endpoint: provider.authorizationEndpoint,
    token_endpoint: provider.tokenEndpoint,
    ...(provider.revocationEndpoint ? { revocation_endpoint: provider.revocationEndpoint } : {}),
  };
}

function clientAuth(provider: ResolvedProvider, client: ClientCredentials): oauth.ClientAuth {
  return provider.tokenEndpointAuthMethod === 'client_secret_post'
    ? oauth.ClientSecretPost(client.clientSecret)
    : oauth.ClientSecretBasic(client.clientSecret);
}

/** One request to the token endpoint, made by `send` with the pieces oauth4webapi wants. */
type TokenEndpointSend = (
  as: oauth.AuthorizationServer,
  client: oauth.Client,
  auth: oauth.ClientAuth,
  options: ReturnType<typeof requestOptions>,
) => Promise<Response>;

/**
 * Calls the token endpoint with this client's secret and reads the answer: a TokenSet, or a ProviderError
 * (RFC 6749 and Snowflake error bodies alike). The code exchange, refresh and the credential check are
 * each one `send`; a caller that holds two secrets (rotation) calls this once per secret.
 */
async function tokenEndpointCall(
  provider: ResolvedProvider,
  client: ClientCredentials,
  send: TokenEndpointSend,
  options: OutboundOptions,
): Promise<TokenSet> {
  const as = authorizationServer(provider);
  const oauthClient: oauth.Client = { client_id: client.clientId };
  let response: Response;
  try {
    response = await send(as, oauthClient, clientAuth(provider, client), requestOptions(provider, options));
  } catch (error) {
    // oauth4webapi refuses before sending only on arguments it cannot use: say nothing more than that.
    throw error instanceof ProviderError ? error : new ProviderError('malformed');
  }
  const text = await response.text();
  const body = parseJson(text);
  const failure = tokenEndpointError(response.status, body);
  if (failure) throw failure;
  if (typeof body === 'object' && body !== null) {
    // The service is an OAuth client, not an OpenID relying party: it asks for no identity and uses none, so
    // an ID token a provider adds (Databricks with `openid`) is dropped rather than validated.
    delete (body as Record<string, unknown>).id_token;
  }
  try {
    const processed = await oauth.processGenericTokenEndpointResponse(
      as,
      oauthClient,
      new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } }),
    );
    return toTokenSet(processed);
  } catch {
    // oauth4webapi's errors carry the body (tokens included) as their cause: none of it goes further.
    throw new ProviderError('malformed', response.status);
  }
}

function toTokenSet(response: oauth.TokenEndpointResponse): TokenSet {
  const refreshExpiresIn = Number(response.refresh_token_expires_in);
  return {
    access_token: response.access_token,
    token_type: response.token_type,
    ...(typeof response.expires_in === 'number' ? { expires_in: response.expires_in } : {}),
    ...(typeof response.refresh_token === 'string' ? { refresh_token: response.refresh_token } : {}),
    ...(Number.isFinite(refreshExpiresIn) && refreshExpiresIn > 0 ? { refresh_token_expires_in: refreshExpiresIn } : {}),
    ...(typeof response.scope === 'string' ? { scope: response.scope } : {}),
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** The authorization code grant (RFC 6749 §4.1.3) with the PKCE verifier (RFC 7636 §4.5). */
export function exchangeCode(
  provider: ResolvedProvider,
  client: ClientCredentials,
  grant: { callbackParameters: URLSearchParams; redirectUri: string; codeVerifier: string },
  options: OutboundOptions,
): Promise<TokenSet> {
  return tokenEndpointCall(
    provider,
    client,
    (as, c, auth, opts) => oauth.authorizationCodeGrantRequest(as, c, auth, grant.callbackParameters, grant.redirectUri, grant.codeVerifier, opts),
    options,
  );
}

/** The refresh token grant (RFC 6749 §6). */
export function refreshGrant(provider: ResolvedProvider, client: ClientCredentials, refreshToken: string, options: OutboundOptions): Promise<TokenSet> {
  return tokenEndpointCall(provider, client, (as, c, auth, opts) => oauth.refreshTokenGrantRequest(as, c, auth, refreshToken, opts), options);
}
