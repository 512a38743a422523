import { Type, type Static } from 'typebox';
import { IdParam } from './common.ts';

export const AccessToken = Type.Object(
  {
    access_token: Type.String({ description: 'Access Token used for API calls' }),
    token_type: Type.String({ description: 'Type of Token' }),
    expires_in: Type.Integer({ description: 'Number of seconds before the token expires' }),
  },
  { $id: 'AccessToken' },
);
export type AccessToken = Static<typeof AccessToken>;

/** Login reads credentials from the form body or, as Looker still does, the query string. */
export const LoginCredentials = Type.Object({
  client_id: Type.Optional(Type.String({ description: 'client_id part of API Key.' })),
  client_secret: Type.Optional(Type.String({ description: 'client_secret part of API Key.' })),
});

export const UserIdParams = Type.Object({ user_id: IdParam('Id of user.') });
