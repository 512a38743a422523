import { Type, type Static } from 'typebox';
import { Can, DateTime, LimitQuery, Nullable, OffsetQuery } from './common.ts';
import type { ProviderColumns } from '../store/external-oauth-applications-repository.ts';

/**
 * Ours, beyond Looker: where the application's external system is, for the OAuth broker. All optional;
 * null clears one. Read `docs/oauth-broker.md` for how they combine (explicit > discovery > preset).
 */
const PROVIDER_FIELDS = {
  provider_url: "The external system's base URL, e.g. https://acme-xy12345.snowflakecomputing.com (with dialect_name snowflake or databricks, the endpoints follow from it).",
  authorization_endpoint: 'The authorization endpoint (full URL); wins over discovery and presets.',
  token_endpoint: 'The token endpoint (full URL); wins over discovery and presets.',
  revocation_endpoint: 'The RFC 7009 revocation endpoint (full URL), if the provider has one.',
  issuer: "The provider's issuer identifier: endpoints not given come from its discovery document, and the authorization response's iss must name it (RFC 9207).",
  scopes: 'Scopes to request, separated by spaces (default: the preset of dialect_name).',
  token_endpoint_auth_method: 'How the client authenticates at the token endpoint: client_secret_basic (default) or client_secret_post.',
} as const satisfies Record<keyof ProviderColumns, string>;

type ProviderField = keyof typeof PROVIDER_FIELDS;
const PROVIDER_FIELD_NAMES = Object.keys(PROVIDER_FIELDS) as ProviderField[];

function providerFieldsRead() {
  return Object.fromEntries(PROVIDER_FIELD_NAMES.map((f) => [f, Nullable(Type.String({ description: `(ours) ${PROVIDER_FIELDS[f]}` }))])) as Record<
    ProviderField,
    ReturnType<typeof Nullable<ReturnType<typeof Type.String>>>
  >;
}

/** Lengths only: what a URL or a scope must look like is checked by the service, which names each bad field. */
function providerFieldsWrite() {
  return Object.fromEntries(
    PROVIDER_FIELD_NAMES.map((f) => [f, Type.Optional(Nullable(Type.String({ maxLength: f === 'scopes' ? 1024 : 2048, description: `(ours) ${PROVIDER_FIELDS[f]}` })))]),
  ) as Record<ProviderField, ReturnType<typeof Type.Optional<ReturnType<typeof Nullable<ReturnType<typeof Type.String>>>>>>;
}

export const ExternalOauthApplication = Type.Object(
  {
    can: Can,
    id: Type.String({ description: 'ID of this OAuth Application' }),
    name: Type.String({ description: 'The name of this application.' }),
    client_id: Type.String({ description: 'The OAuth Client ID for this application' }),
    tenant_id: Nullable(Type.String({ description: 'The OAuth Tenant ID for this application' })),
    dialect_name: Nullable(Type.String({ description: 'The database dialect for this application.' })),
    bi_directional_data_access: Nullable(Type.Boolean({ description: 'Whether this application supports bi-directional data access.' })),
    ...providerFieldsRead(),
    // Ours: zero-downtime client-secret rotation (docs/tokens.md). Never the secret itself.
    has_previous_secret: Type.Boolean({
      description: '(ours) Whether the client secret replaced by the last rotation is still tried when the provider refuses the current one.',
    }),
    previous_secret_expires_at: Nullable(
      Type.String({ format: 'date-time', description: '(ours) Until when the previous client secret is tried (EOA_SECRET_OVERLAP_S after the rotation).' }),
    ),
    created_at: DateTime,
  },
  { $id: 'ExternalOauthApplication' },
);
export type ExternalOauthApplication = Static<typeof ExternalOauthApplication>;

/**
 * The writable fields. Types and lengths live here; the rules a schema says badly (a name that is only
 * spaces, the dialect alphabet, a body client_id that contradicts the path) live in the service, and the
 * routes report both kinds in one 422. Read-only fields (`id`, `created_at`, `can`) and unknown fields are
 * not declared, so they are ignored.
 */
const writable = {
  name: Type.String({ minLength: 1, maxLength: 255, description: 'The name of this application (trimmed; unique).' }),
  client_id: Type.String({ minLength: 1, maxLength: 255, description: 'The OAuth Client ID for this application (unique; any characters).' }),
  client_secret: Type.String({ minLength: 1, maxLength: 4096, description: '(Write-Only) The OAuth Client Secret for this application' }),
  tenant_id: Nullable(Type.String({ maxLength: 255, description: 'The OAuth Tenant ID for this application' })),
  dialect_name: Nullable(
    Type.String({ maxLength: 64, description: 'The database dialect for this application, e.g. snowflake, databricks, bigquery_standard_sql.' }),
  ),
  bi_directional_data_access: Nullable(Type.Boolean({ description: 'Whether this application supports bi-directional data access.' })),
};

export const CreateExternalOauthApplicationBody = Type.Object({
  name: writable.name,
  client_id: writable.client_id,
  client_secret: writable.client_secret,
  tenant_id: Type.Optional(writable.tenant_id),
  dialect_name: Type.Optional(writable.dialect_name),
  bi_directional_data_access: Type.Optional(writable.bi_directional_data_access),
  ...providerFieldsWrite(),
});
export type CreateExternalOauthApplicationBody = Static<typeof CreateExternalOauthApplicationBody>;

/** Every field optional: the main use is rotating `client_secret`. A `client_id` must equal the path's. */
export const UpdateExternalOauthApplicationBody = Type.Partial(CreateExternalOauthApplicationBody);
export type UpdateExternalOauthApplicationBody = Static<typeof UpdateExternalOauthApplicationBody>;

export const ExternalOauthApplicationParams = Type.Object({
  client_id: Type.String({ description: 'The client ID of the OAuth App (percent-encoded in the path)' }),
});

export const ExternalOauthApplicationQuery = Type.Object({
  name: Type.Optional(Type.String({ description: 'Application name (exact match)' })),
  client_id: Type.Optional(Type.String({ description: 'Application Client ID (exact match)' })),
  // Ours, as on Looker's other lists: both optional, so a client that omits them sees Looker's behaviour.
  limit: LimitQuery,
  offset: OffsetQuery,
});

/** OAuth tokens are opaque; JWTs from some providers run to several kilobytes. */
const Token = Type.String({ minLength: 1, maxLength: 16_384 });

export const CreateOAuthApplicationUserStateRequest = Type.Object({
  user_id: Type.String({ minLength: 1, maxLength: 32, description: 'User Id' }),
  oauth_application_id: Type.String({ minLength: 1, maxLength: 32, description: 'OAuth Application ID (the application `id`)' }),
  access_token: Token,
  access_token_expires_at: DateTime,
  refresh_token: Type.Optional(Nullable(Token)),
  refresh_token_expires_at: Type.Optional(Nullable(DateTime)),
});
export type CreateOAuthApplicationUserStateRequest = Static<typeof CreateOAuthApplicationUserStateRequest>;

const CreateOAuthApplicationUserStateResponse = Type.Object(
  {
    user_id: Type.String({ description: 'User Id' }),
    oauth_application_id: Type.String({ description: 'OAuth Application ID' }),
  },
  { $id: 'CreateOAuthApplicationUserStateResponse' },
);

/** Registered once with fastify so routes can `$ref` them and the OpenAPI document names them. */
export const SHARED_SCHEMAS = [ExternalOauthApplication, CreateOAuthApplicationUserStateResponse];
