/**
 * What the service knows about the external systems Looker's dialects name, so an admin need enter only
 * the account URL, the client id and the secret (as in Looker). Every field here is overridden by the
 * application's own setting of the same name. Sources, as of 2026:
 *
 * - Snowflake, "Configure Snowflake OAuth for custom clients" (docs.snowflake.com, user-guide/oauth-custom):
 *   authorization `<account_url>/oauth/authorize`, token `<account_url>/oauth/token-request`; the client
 *   authenticates with HTTP Basic only; a refresh token is issued only when the scope holds `refresh_token`
 *   (add `session:role:<ROLE>` to ask for one role). PKCE S256 is accepted (required with
 *   `OAUTH_ENFORCE_PKCE = TRUE`). No RFC 7009 revocation endpoint and no discovery document.
 * - Databricks, "Enable custom OAuth applications" / "OAuth user-to-machine (U2M)" (docs.databricks.com,
 *   dev-tools/auth/oauth-u2m): `https://<workspace>/oidc/v1/authorize` and `/oidc/v1/token` (discovery at
 *   `/oidc/.well-known/openid-configuration`); scope `sql` (or `all-apis`) plus `offline_access` for a
 *   refresh token; PKCE S256.
 * - Google (BigQuery), "Using OAuth 2.0 for Web Server Applications" (developers.google.com,
 *   identity/protocols/oauth2/web-server): `https://accounts.google.com/o/oauth2/v2/auth`,
 *   `https://oauth2.googleapis.com/token`, revocation `https://oauth2.googleapis.com/revoke`; a refresh
 *   token only with `access_type=offline`, and again on a later consent only with `prompt=consent`; scope
 *   `https://www.googleapis.com/auth/bigquery`; the examples send the client secret in the body. Google
 *   names itself `https://accounts.google.com` in the authorization response's `iss` (its discovery
 *   document says `authorization_response_iss_parameter_supported`).
 */
export type TokenEndpointAuthMethod = 'client_secret_basic' | 'client_secret_post';

export const TOKEN_ENDPOINT_AUTH_METHODS: readonly TokenEndpointAuthMethod[] = ['client_secret_basic', 'client_secret_post'];

interface Preset {
  /** Paths joined to the application's `provider_url`, or absolute URLs when the provider has one host. */
  authorizationEndpoint: string;
  tokenEndpoint: string;
  revocationEndpoint: string | null;
  /** The `iss` the authorization response carries, when the provider is one fixed issuer. */
  issuer: string | null;
  scopes: string;
  tokenEndpointAuthMethod: TokenEndpointAuthMethod;
  /** Added to the authorization request. */
  authorizationParams: Record<string, string>;
  /** False when every endpoint is absolute, so no `provider_url` is needed. */
  needsProviderUrl: boolean;
}

const PRESETS: Readonly<Record<string, Preset>> = {
  snowflake: {
    authorizationEndpoint: '/oauth/authorize',
    tokenEndpoint: '/oauth/token-request',
    revocationEndpoint: null,
    issuer: null,
    scopes: 'refresh_token',
    tokenEndpointAuthMethod: 'client_secret_basic',
    authorizationParams: {},
    needsProviderUrl: true,
  },
  databricks: {
    authorizationEndpoint: '/oidc/v1/authorize',
    tokenEndpoint: '/oidc/v1/token',
    revocationEndpoint: null,
    issuer: null,
    scopes: 'sql offline_access',
    tokenEndpointAuthMethod: 'client_secret_basic',
    authorizationParams: {},
    needsProviderUrl: true,
  },
  bigquery_standard_sql: {
    authorizationEndpoint: 'https://accounts.google.com/o/oauth2/v2/auth',
    tokenEndpoint: 'https://oauth2.googleapis.com/token',
    revocationEndpoint: 'https://oauth2.googleapis.com/revoke',
    issuer: 'https://accounts.google.com',
    scopes: 'https://www.googleapis.com/auth/bigquery',
    tokenEndpointAuthMethod: 'client_secret_post',
    authorizationParams: { access_type: 'offline', prompt: 'consent' },
    needsProviderUrl: false,
  },
};

export function presetFor(dialectName: string | null): Preset | null {
  return dialectName !== null && Object.hasOwn(PRESETS, dialectName) ? PRESETS[dialectName] : null;
}
