import { Type, type Static } from 'typebox';
import { DateTime, IdParam, LimitQuery, Nullable, OffsetQuery } from './common.ts';

/** Ours, beyond Looker: handing out users' tokens of an application, and the status of their states. */

export const AccessTokenRequest = Type.Object({
  user_id: Type.Optional(
    Type.String({ minLength: 1, maxLength: 32, description: 'Whose token (default: the caller). Admins may name any user; others only themselves.' }),
  ),
});
export type AccessTokenRequest = Static<typeof AccessTokenRequest>;

const ExternalOauthAccessToken = Type.Object(
  {
    access_token: Type.String({ description: "The user's access token at the external system. Send it there as `Authorization: Bearer …`; never store it." }),
    token_type: Type.String({ description: 'As the provider said; normally Bearer.' }),
    expires_at: DateTime,
    scope: Nullable(Type.String({ description: 'The scopes granted, separated by spaces; null when the provider did not say.' })),
  },
  { $id: 'ExternalOauthAccessToken' },
);

const ExternalOauthUserStateStatus = Type.Object(
  {
    user_id: Type.String({ description: 'User Id' }),
    oauth_application_id: Type.String({ description: 'OAuth Application ID (the application `id`)' }),
    status: Type.Union([Type.Literal('active'), Type.Literal('expired'), Type.Literal('needs_reauth')], {
      description:
        'active: the access token is valid. expired: it has expired and the next access_token call refreshes it. needs_reauth: refreshing cannot help; the user must connect again.',
    }),
    access_token_expires_at: DateTime,
    refresh_token_expires_at: Nullable(DateTime),
    has_refresh_token: Type.Boolean({ description: 'Whether a refresh token is held (never the token itself).' }),
    last_refreshed_at: Nullable(DateTime),
    last_error: Nullable(
      Type.String({
        description:
          'The last failure, as a code: invalid_grant, no_refresh_token, refresh_token_expired, refresh_interrupted (needs_reauth); unreachable, timeout, server_error, invalid_client, rejected, malformed (the provider; the tokens were kept). Never provider text.',
      }),
    ),
    updated_at: DateTime,
  },
  { $id: 'ExternalOauthUserStateStatus' },
);

const CredentialCheck = Type.Object(
  {
    client_authentication: Type.Union([Type.Literal('ok'), Type.Literal('rejected'), Type.Literal('unreachable'), Type.Literal('inconclusive')], {
      description: "ok: the provider accepts the client id and secret. rejected: it refuses them. unreachable: it could not be asked. inconclusive: its answer says neither.",
    }),
    detail: Type.String({ description: 'What the provider answered, in our words (never its text).' }),
  },
  { $id: 'ExternalOauthCredentialCheck' },
);

export const UserStateParams = Type.Object({
  client_id: Type.String({ description: 'The client ID of the OAuth App (percent-encoded in the path)' }),
  user_id: IdParam('User Id'),
});

export const UserStatesQuery = Type.Object({
  limit: LimitQuery,
  offset: OffsetQuery,
});

/** Registered once with fastify so routes can `$ref` them and the OpenAPI document names them. */
export const TOKEN_SCHEMAS = [ExternalOauthAccessToken, ExternalOauthUserStateStatus, CredentialCheck];
