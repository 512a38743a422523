import { Type, type Static } from 'typebox';
import { Can, DateTime, Nullable } from './common.ts';

export const ExternalOauthApplication = Type.Object(
  {
    can: Can,
    id: Type.String({ description: 'ID of this OAuth Application' }),
    name: Type.String({ description: 'The name of this application.' }),
    client_id: Type.String({ description: 'The OAuth Client ID for this application' }),
    tenant_id: Nullable(Type.String({ description: 'The OAuth Tenant ID for this application' })),
    dialect_name: Nullable(Type.String({ description: 'The database dialect for this application.' })),
    bi_directional_data_access: Nullable(Type.Boolean({ description: 'Whether this application supports bi-directional data access.' })),
    created_at: DateTime,
  },
  { $id: 'ExternalOauthApplication' },
);
export type ExternalOauthApplication = Static<typeof ExternalOauthApplication>;

export const CreateOAuthApplicationUserStateResponse = Type.Object(
  {
    user_id: Type.String({ description: 'User Id' }),
    oauth_application_id: Type.String({ description: 'OAuth Application ID' }),
  },
  { $id: 'CreateOAuthApplicationUserStateResponse' },
);

/** Registered once with fastify so routes can `$ref` them and the OpenAPI document names them. */
export const SHARED_SCHEMAS = [ExternalOauthApplication, CreateOAuthApplicationUserStateResponse];
