/**
 * Every route of the service foundation, once: the auth cases (auth.test.ts) and the bad-input cases
 * (errors.test.ts) are generated from this table, and auth.test.ts checks it against the OpenAPI
 * document so a new route cannot be left out.
 */
export type Access = 'public' | 'user' | 'self' | 'admin';

/**
 * Ids the paths are built from: `user` is the user a route acts on, `credentials` one of theirs, and
 * `application` the client_id of an application whose token routes they use (one that does not exist when
 * left out).
 */
export interface RouteIds {
  user: string;
  credentials: string;
  application?: string;
}

export interface FoundationRoute {
  operationId: string;
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  path: (ids: RouteIds) => string;
  access: Access;
  /** A valid body, for routes that take one. */
  body?: unknown;
  /** The body's JSON type, for the "wrong body type" cases. */
  bodyType?: 'object' | 'array';
  /** True when the body is optional (create_user_credentials_api3 takes none from the SDK). */
  bodyOptional?: boolean;
}

const users = '/api/4.0/users';
const broker = (i: RouteIds) => `/api/4.0/external_oauth_applications/${encodeURIComponent(i.application ?? 'no-such-application')}`;

export const FOUNDATION_ROUTES: FoundationRoute[] = [
  { operationId: 'login_user', method: 'POST', path: (i) => `/api/4.0/login/${i.user}`, access: 'admin' },
  { operationId: 'logout', method: 'DELETE', path: () => '/api/4.0/logout', access: 'user' },
  { operationId: 'logout', method: 'DELETE', path: () => '/api/logout', access: 'user' },
  { operationId: 'me', method: 'GET', path: () => '/api/4.0/user', access: 'user' },
  { operationId: 'all_users', method: 'GET', path: () => users, access: 'admin' },
  { operationId: 'create_user', method: 'POST', path: () => users, access: 'admin', body: { first_name: 'New' }, bodyType: 'object' },
  { operationId: 'user', method: 'GET', path: (i) => `${users}/${i.user}`, access: 'self' },
  { operationId: 'update_user', method: 'PATCH', path: (i) => `${users}/${i.user}`, access: 'admin', body: { last_name: 'Changed' }, bodyType: 'object' },
  { operationId: 'delete_user', method: 'DELETE', path: (i) => `${users}/${i.user}`, access: 'admin' },
  { operationId: 'all_user_credentials_api3s', method: 'GET', path: (i) => `${users}/${i.user}/credentials_api3`, access: 'admin' },
  {
    operationId: 'create_user_credentials_api3',
    method: 'POST',
    path: (i) => `${users}/${i.user}/credentials_api3`,
    access: 'admin',
    body: { purpose: 'ci' },
    bodyType: 'object',
    bodyOptional: true,
  },
  { operationId: 'user_credentials_api3', method: 'GET', path: (i) => `${users}/${i.user}/credentials_api3/${i.credentials}`, access: 'admin' },
  {
    operationId: 'update_user_credentials_api3',
    method: 'PATCH',
    path: (i) => `${users}/${i.user}/credentials_api3/${i.credentials}`,
    access: 'admin',
    body: { purpose: 'renamed' },
    bodyType: 'object',
  },
  { operationId: 'delete_user_credentials_api3', method: 'DELETE', path: (i) => `${users}/${i.user}/credentials_api3/${i.credentials}`, access: 'admin' },
  { operationId: 'all_roles', method: 'GET', path: () => '/api/4.0/roles', access: 'admin' },
  { operationId: 'user_roles', method: 'GET', path: (i) => `${users}/${i.user}/roles`, access: 'self' },
  { operationId: 'set_user_roles', method: 'PUT', path: (i) => `${users}/${i.user}/roles`, access: 'admin', body: ['2'], bodyType: 'array' },
  // The OAuth broker (ours): each user connects themselves, so any live session reaches the handler.
  {
    operationId: 'authorize_external_oauth_application',
    method: 'POST',
    path: () => '/api/4.0/external_oauth_applications/no-such-application/authorize',
    access: 'user',
    body: { return_to: '/done' },
    bodyType: 'object',
    bodyOptional: true,
  },
  // Ours: the audit log (held against the service's own OpenAPI document).
  { operationId: 'all_audit_events', method: 'GET', path: () => '/api/4.0/audit_events', access: 'admin' },
  // The broker's token side (ours); without `application`, on one that does not exist: past the auth checks, a 404.
  {
    operationId: 'external_oauth_application_access_token',
    method: 'POST',
    path: (i) => `${broker(i)}/access_token`,
    access: 'user',
    body: { user_id: '1' },
    bodyType: 'object',
    bodyOptional: true,
  },
  { operationId: 'all_external_oauth_application_user_states', method: 'GET', path: (i) => `${broker(i)}/user_states`, access: 'admin' },
  { operationId: 'external_oauth_application_user_state', method: 'GET', path: (i) => `${broker(i)}/user_states/${i.user}`, access: 'self' },
  { operationId: 'delete_external_oauth_application_user_state', method: 'DELETE', path: (i) => `${broker(i)}/user_states/${i.user}`, access: 'self' },
  { operationId: 'check_external_oauth_application', method: 'POST', path: (i) => `${broker(i)}/check`, access: 'admin' },
];

export function describeRoute(route: FoundationRoute): string {
  return `${route.method} ${route.path({ user: ':user_id', credentials: ':credentials_api3_id' })}`;
}
