import { Type, type Static } from 'typebox';
import { Can, DateTime, IdParam, Nullable } from './common.ts';

export const CredentialsApi3 = Type.Object(
  {
    can: Can,
    id: Type.String(),
    client_id: Nullable(Type.String()),
    created_at: Nullable(Type.String()),
    is_disabled: Type.Boolean(),
    type: Nullable(Type.String()),
    purpose: Nullable(Type.String()),
    url: Nullable(Type.String({ format: 'uri-reference' })),
  },
  { $id: 'CredentialsApi3' },
);
export type CredentialsApi3 = Static<typeof CredentialsApi3>;

export const CreateCredentialsApi3 = Type.Object(
  {
    ...CredentialsApi3.properties,
    client_secret: Nullable(Type.String({ description: 'API key client_secret' })),
  },
  { $id: 'CreateCredentialsApi3' },
);

export const CredentialsApi3Body = Type.Object({
  purpose: Type.Optional(Nullable(Type.String({ maxLength: 255 }))),
  is_disabled: Type.Optional(Type.Boolean()),
});

export const User = Type.Object(
  {
    can: Can,
    id: Type.String(),
    first_name: Nullable(Type.String()),
    last_name: Nullable(Type.String()),
    display_name: Nullable(Type.String()),
    email: Nullable(Type.String()),
    is_disabled: Type.Boolean(),
    locale: Nullable(Type.String()),
    role_ids: Type.Array(Type.String()),
    group_ids: Type.Array(Type.String()),
    credentials_api3: Type.Array(CredentialsApi3),
    home_folder_id: Nullable(Type.String()),
    personal_folder_id: Nullable(Type.String()),
    presumed_looker_employee: Type.Boolean(),
    verified_looker_employee: Type.Boolean(),
    roles_externally_managed: Type.Boolean(),
    allow_direct_roles: Type.Boolean(),
    allow_normal_group_membership: Type.Boolean(),
    allow_roles_from_normal_groups: Type.Boolean(),
    is_service_account: Type.Boolean(),
    url: Nullable(Type.String({ format: 'uri-reference' })),
    /** Ours: when the user was created. */
    created_at: DateTime,
  },
  { $id: 'User' },
);
export type User = Static<typeof User>;

const Name = Nullable(Type.String({ maxLength: 255 }));

/** The writable fields of a user; everything else Looker's User has is read-only here and ignored. */
export const UserBody = Type.Object({
  first_name: Type.Optional(Name),
  last_name: Type.Optional(Name),
  email: Type.Optional(Nullable(Type.String({ maxLength: 255, pattern: '^[^\\s@]+@[^\\s@]+$' }))),
  locale: Type.Optional(Nullable(Type.String({ maxLength: 16, pattern: '^[a-zA-Z]{2,3}([-_][a-zA-Z0-9]{2,8})*$' }))),
  is_disabled: Type.Optional(Type.Boolean()),
});
export type UserBody = Static<typeof UserBody>;

const PermissionSet = Type.Object({
  can: Can,
  all_access: Type.Boolean(),
  built_in: Type.Boolean(),
  id: Type.String(),
  name: Nullable(Type.String()),
  permissions: Type.Array(Type.String()),
  url: Nullable(Type.String({ format: 'uri-reference' })),
});

const ModelSet = Type.Object({
  can: Can,
  all_access: Type.Boolean(),
  built_in: Type.Boolean(),
  id: Type.String(),
  models: Type.Array(Type.String()),
  name: Nullable(Type.String()),
  url: Nullable(Type.String({ format: 'uri-reference' })),
});

export const Role = Type.Object(
  {
    can: Can,
    id: Type.String(),
    name: Nullable(Type.String()),
    permission_set: PermissionSet,
    model_set: ModelSet,
    internal: Type.Boolean(),
    url: Nullable(Type.String({ format: 'uri-reference' })),
    users_url: Nullable(Type.String({ format: 'uri-reference' })),
  },
  { $id: 'Role' },
);
export type Role = Static<typeof Role>;

export const UserParams = Type.Object({ user_id: IdParam('Id of user') });
export const CredentialsParams = Type.Object({
  user_id: IdParam('Id of user'),
  credentials_api3_id: IdParam('Id of API Credential'),
});

export const RoleIdsBody = Type.Array(Type.String({ maxLength: 32 }), { maxItems: 100 });
