import type { FastifyRequest } from 'fastify';
import { isSudo, type Caller } from '../services/sessions.ts';
import type { User } from '../store/users-repository.ts';
import type { CredentialsApi3 } from '../store/credentials-repository.ts';
import type { Role } from '../store/users-repository.ts';
import { publicBase } from '../http/public-url.ts';
import { ADMIN_ROLE_ID } from '../store/users-repository.ts';

/** Turns records into Looker's response shapes: `can` from the caller's role, `url` from the public base. */

function apiBase(request: FastifyRequest): string {
  return `${publicBase(request, request.server.config.publicUrl)}/api/4.0`;
}

/** The `can` of an object only admins manage: every operation, or none. */
export function adminCan(caller: Caller) {
  return { show: caller.isAdmin, index: caller.isAdmin, update: caller.isAdmin, destroy: caller.isAdmin };
}

export function presentCredentials(request: FastifyRequest, caller: Caller, c: CredentialsApi3) {
  return {
    can: adminCan(caller),
    id: c.id,
    client_id: c.client_id,
    created_at: c.created_at,
    is_disabled: c.is_disabled,
    type: 'api3',
    purpose: c.purpose,
    url: `${apiBase(request)}/users/${c.user_id}/credentials_api3/${c.id}`,
  };
}

export function presentUser(request: FastifyRequest, caller: Caller, user: User, credentials: CredentialsApi3[]) {
  const admin = caller.isAdmin;
  const self = caller.userId === user.id;
  const displayName = [user.first_name, user.last_name].filter(Boolean).join(' ');
  return {
    can: {
      show: admin || self,
      index: admin,
      show_details: admin || self,
      index_details: admin,
      update: admin,
      destroy: admin && !self,
      // A token from login/{user_id} cannot mint another (services/sessions.ts).
      sudo: admin && !self && !user.is_disabled && !isSudo(caller),
    },
    id: user.id,
    first_name: user.first_name,
    last_name: user.last_name,
    display_name: displayName || null,
    email: user.email,
    is_disabled: user.is_disabled,
    locale: user.locale,
    role_ids: user.role_ids,
    group_ids: [],
    credentials_api3: credentials.map((c) => presentCredentials(request, caller, c)),
    home_folder_id: null,
    personal_folder_id: null,
    presumed_looker_employee: false,
    verified_looker_employee: false,
    roles_externally_managed: false,
    allow_direct_roles: true,
    allow_normal_group_membership: false,
    allow_roles_from_normal_groups: false,
    is_service_account: false,
    url: `${apiBase(request)}/users/${user.id}`,
    created_at: user.created_at,
  };
}

const PERMISSIONS: Record<string, string[]> = {
  Admin: ['administer', 'manage_external_oauth_applications', 'manage_users', 'see_users', 'login_as_user'],
  User: ['access_data', 'set_own_oauth_application_user_state'],
};

export function presentRole(request: FastifyRequest, caller: Caller, role: Role) {
  const base = apiBase(request);
  const allAccess = role.id === ADMIN_ROLE_ID;
  return {
    can: { show: caller.isAdmin, index: caller.isAdmin, update: false },
    id: role.id,
    name: role.name,
    permission_set: {
      can: { show: caller.isAdmin, index: caller.isAdmin, update: false },
      all_access: allAccess,
      built_in: true,
      id: role.id,
      name: allAccess ? 'Admin' : role.name,
      permissions: PERMISSIONS[role.name] ?? [],
      url: `${base}/permission_sets/${role.id}`,
    },
    model_set: {
      can: { show: caller.isAdmin, index: caller.isAdmin, update: false },
      all_access: true,
      built_in: true,
      id: '1',
      models: [],
      name: 'All',
      url: `${base}/model_sets/1`,
    },
    internal: false,
    url: `${base}/roles/${role.id}`,
    users_url: `${base}/roles/${role.id}/users`,
  };
}
