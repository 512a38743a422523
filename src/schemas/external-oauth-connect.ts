import { Type } from 'typebox';
import { DateTime } from './common.ts';

/** Ours: starting the authorization-code flow for the caller (docs/oauth-broker.md). */
export const AuthorizeRequest = Type.Object({
  return_to: Type.Optional(
    Type.String({ minLength: 1, maxLength: 2048, description: 'Where to send the browser after connecting: a path on this service, or a URL on an origin listed in EOA_RETURN_TO_ORIGINS.' }),
  ),
});

const OAuthAuthorization = Type.Object(
  {
    authorization_url: Type.String({ description: "The provider URL to open in the user's browser (holds the single-use state)." }),
    expires_at: DateTime,
  },
  { $id: 'OAuthAuthorization' },
);

/**
 * What a provider sends back. Providers add their own parameters (Google: scope, authuser, prompt, hd;
 * Entra: session_state), so others are accepted and ignored.
 */
export const OAuthCallbackQuery = Type.Object(
  {
    state: Type.Optional(Type.String()),
    code: Type.Optional(Type.String()),
    iss: Type.Optional(Type.String()),
    error: Type.Optional(Type.String()),
    error_description: Type.Optional(Type.String()),
    error_uri: Type.Optional(Type.String()),
  },
  { additionalProperties: true },
);

export const CONNECT_SCHEMAS = [OAuthAuthorization];
