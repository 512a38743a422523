import * as oauth from 'oauth4webapi';
import type { ValidationProblem } from '../errors.ts';
import type { ExternalOauthApplicationRecord, ProviderColumns } from '../store/external-oauth-applications-repository.ts';
import { boundedFetch, type OutboundOptions } from './outbound.ts';
import { ProviderError } from './provider-errors.ts';
import { presetFor, TOKEN_ENDPOINT_AUTH_METHODS, type TokenEndpointAuthMethod } from './presets.ts';

/** An application's provider settings, as stored (every one optional): its provider columns and its dialect, which picks a preset. */
export type ProviderSettings = ProviderColumns & Pick<ExternalOauthApplicationRecord, 'dialect_name'>;

const PROVIDER_URL_FIELDS = ['provider_url', 'authorization_endpoint', 'token_endpoint', 'revocation_endpoint', 'issuer'] as const;

/** Where and how to talk to an application's external system, every gap filled. */
export interface ResolvedProvider {
  /** The issuer the authorization response's `iss` must name (RFC 9207); null when unknown. */
  issuer: string | null;
  /** True when the provider says it always sends `iss` (its metadata), so a missing one is refused. */
  issRequired: boolean;
  authorizationEndpoint: string;
  tokenEndpoint: string;
  revocationEndpoint: string | null;
  scopes: string | null;
  tokenEndpointAuthMethod: TokenEndpointAuthMethod;
  authorizationParams: Record<string, string>;
  /** Some endpoint is plain http (loopback, or EOA_ALLOW_INSECURE_PROVIDERS): oauth4webapi must allow it. */
  allowInsecure: boolean;
}

export class ProviderSettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProviderSettingsError';
  }
}

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;
/** RFC 6749 §3.3: scope tokens are printable ASCII without space, `"` and `\`. */
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

function urlProblem(field: string, value: string, allowInsecure: boolean): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'Must be an absolute URL, e.g. https://acme-xy12345.snowflakecomputing.com.';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'Must be an https URL.';
  if (url.protocol === 'http:' && !allowInsecure && !LOOPBACK.test(url.hostname)) {
    return 'Must be an https URL (plain http is accepted only for loopback hosts, or with EOA_ALLOW_INSECURE_PROVIDERS=true).';
  }
  // Credentials in a URL would travel to the provider and into any log of it.
  if (url.username !== '' || url.password !== '') return 'Must not hold a user name or password.';
  if (url.hash !== '' || value.includes('#')) return 'Must not hold a fragment (#…).';
  if ((field === 'provider_url' || field === 'issuer') && url.search !== '') return 'Must not hold a query (?…).';
  return null;
}

/**
 * The problems of the provider fields of an application body (as received: a field of the wrong type is
 * the schema's to report). Each bad field is named; the routes join these with the schema's into one 422.
 */
export function providerSettingProblems(body: Record<string, unknown>, allowInsecure: boolean): ValidationProblem[] {
  const problems: ValidationProblem[] = [];
  for (const field of PROVIDER_URL_FIELDS) {
    const value = body[field];
    if (typeof value !== 'string') continue;
    const problem = urlProblem(field, value, allowInsecure);
    if (problem) problems.push({ field, code: 'invalid', message: problem });
  }
  if (typeof body.scopes === 'string' && body.scopes.split(' ').some((token) => !SCOPE_TOKEN.test(token))) {
    problems.push({ field: 'scopes', code: 'invalid', message: 'Must be scope names separated by single spaces (printable ASCII, no " or \\).' });
  }
  const method = body.token_endpoint_auth_method;
  if (typeof method === 'string' && !(TOKEN_ENDPOINT_AUTH_METHODS as readonly string[]).includes(method)) {
    problems.push({ field: 'token_endpoint_auth_method', code: 'invalid', message: `Must be one of ${TOKEN_ENDPOINT_AUTH_METHODS.join(', ')}.` });
  }
  return problems;
}

/** The discovered metadata of an issuer, kept a while: providers change it rarely, and never per request. */
interface CachedMetadata {
  metadata: oauth.AuthorizationServer;
  expiresAt: number;
}

interface ProviderResolverOptions extends OutboundOptions {
  allowInsecure: boolean;
  /** How long discovered metadata is reused (default 15 minutes). */
  discoveryTtlMs?: number;
  /** At most this many issuers are remembered (default 256); the oldest goes first. */
  discoveryCacheMax?: number;
}

/**
 * Resolves an application's effective endpoints: its explicit settings win, then the issuer's discovery
 * document (when `issuer` is set and something is missing), then the dialect's preset. Discovery results
 * are cached per process, bounded in size and time: an issuer that moves its endpoints is seen within
 * `discoveryTtlMs`; a failed discovery is not cached, so the next attempt asks again.
 */
export function providerResolver(options: ProviderResolverOptions) {
  const ttlMs = options.discoveryTtlMs ?? 15 * 60 * 1000;
  const cacheMax = options.discoveryCacheMax ?? 256;
  const cache = new Map<string, CachedMetadata>();

  async function discover(issuer: string): Promise<oauth.AuthorizationServer> {
    const hit = cache.get(issuer);
    if (hit && hit.expiresAt > Date.now()) return hit.metadata;
    cache.delete(issuer);
    const metadata = await fetchMetadata(issuer);
    if (cache.size >= cacheMax) cache.delete(cache.keys().next().value!);
    cache.set(issuer, { metadata, expiresAt: Date.now() + ttlMs });
    return metadata;
  }

  /** RFC 8414 first, then OpenID Connect Discovery; either must name the configured issuer exactly. */
  async function fetchMetadata(issuer: string): Promise<oauth.AuthorizationServer> {
    const requestOptions = { [oauth.customFetch]: boundedFetch(options), [oauth.allowInsecureRequests]: issuer.startsWith('http:') };
    let lastError: ProviderError = new ProviderError('malformed');
    for (const algorithm of ['oauth2', 'oidc'] as const) {
      try {
        const response = await oauth.discoveryRequest(new URL(issuer), { algorithm, ...requestOptions });
        if (response.status !== 200) {
          lastError = new ProviderError(response.status >= 500 ? 'server_error' : 'malformed', response.status);
          continue;
        }
        return await oauth.processDiscoveryResponse(new URL(issuer), response);
      } catch (error) {
        // A network failure will not be different at the second address: stop there.
        if (error instanceof ProviderError) throw error;
        lastError = new ProviderError('malformed');
      }
    }
    throw lastError;
  }

  return {
    /**
     * Throws ProviderSettingsError when the settings do not say where the provider is (the message tells
     * the admin what to set), and ProviderError when discovery fails.
     */
    async resolve(settings: ProviderSettings): Promise<ResolvedProvider> {
      const preset = presetFor(settings.dialect_name);
      const base = settings.provider_url?.replace(/\/+$/, '') ?? null;
      const fromPreset = (endpoint: string | null | undefined): string | null => {
        if (!endpoint) return null;
        if (/^https?:\/\//.test(endpoint)) return endpoint;
        return base === null ? null : `${base}${endpoint}`;
      };
      const explicit = {
        authorization: settings.authorization_endpoint,
        token: settings.token_endpoint,
        revocation: settings.revocation_endpoint,
      };
      let discovered: oauth.AuthorizationServer | null = null;
      if (settings.issuer !== null && (explicit.authorization === null || explicit.token === null)) {
        discovered = await discover(settings.issuer);
      } else if (settings.issuer !== null && explicit.revocation === null) {
        // Only the revocation endpoint (and whether iss is always sent) would come from discovery: a provider
        // whose document cannot be read is still usable with the endpoints the admin gave.
        discovered = await discover(settings.issuer).catch(() => null);
      }

      const authorizationEndpoint = explicit.authorization ?? discovered?.authorization_endpoint ?? fromPreset(preset?.authorizationEndpoint);
      const tokenEndpoint = explicit.token ?? discovered?.token_endpoint ?? fromPreset(preset?.tokenEndpoint);
      if (!authorizationEndpoint || !tokenEndpoint) {
        throw new ProviderSettingsError(
          preset?.needsProviderUrl
            ? `The application has no provider_url: set it to the ${settings.dialect_name} account URL.`
            : 'The application does not say where its provider is: set issuer, or authorization_endpoint and token_endpoint, or provider_url with dialect_name snowflake or databricks.',
        );
      }
      const revocationEndpoint = explicit.revocation ?? discovered?.revocation_endpoint ?? fromPreset(preset?.revocationEndpoint);
      const endpoints = [authorizationEndpoint, tokenEndpoint, revocationEndpoint].filter((e): e is string => typeof e === 'string');
      // Discovered endpoints are held to the rules stored ones are (https, or http where allowed).
      if (discovered && endpoints.some((e) => urlProblem('endpoint', e, options.allowInsecure) !== null)) {
        throw new ProviderError('malformed');
      }
      return {
        issuer: settings.issuer ?? preset?.issuer ?? null,
        issRequired: discovered?.authorization_response_iss_parameter_supported === true,
        authorizationEndpoint,
        tokenEndpoint,
        revocationEndpoint: revocationEndpoint ?? null,
        scopes: settings.scopes ?? preset?.scopes ?? null,
        tokenEndpointAuthMethod: (settings.token_endpoint_auth_method as TokenEndpointAuthMethod | null) ?? preset?.tokenEndpointAuthMethod ?? 'client_secret_basic',
        authorizationParams: preset?.authorizationParams ?? {},
        allowInsecure: endpoints.some((e) => e.startsWith('http:')),
      };
    },
  };
}

export type ProviderResolver = ReturnType<typeof providerResolver>;
