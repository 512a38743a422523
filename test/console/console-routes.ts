/**
 * Every route of the web console (and `/`, which redirects to it), once. Console pages are not API operations, so they are hidden from the
 * OpenAPI document (and so from the route table, matrix and fuzz suites that are checked against it); this
 * table covers them instead: console.test.ts fails when a registered /console route is missing here or
 * declares another access, and generates the signed-out and non-admin cases of every route from it.
 */
export interface ConsoleIds {
  clientId: string;
  userId: string;
  credentialsId: string;
}

export interface ConsoleRoute {
  method: 'GET' | 'POST';
  /** As registered with fastify. */
  route: string;
  access: 'public' | 'user' | 'member' | 'admin';
  path: (ids: ConsoleIds) => string;
  /** A valid form for POST routes (the CSRF token is added by the client). */
  form?: Record<string, string | string[]>;
}

const enc = encodeURIComponent;
const app = (i: ConsoleIds) => `/console/applications/${enc(i.clientId)}`;
const user = (i: ConsoleIds) => `/console/users/${enc(i.userId)}`;

export const CONSOLE_ROUTES: ConsoleRoute[] = [
  { method: 'GET', route: '/', access: 'public', path: () => '/' },
  { method: 'GET', route: '/console', access: 'user', path: () => '/console' },
  { method: 'GET', route: '/console/login', access: 'public', path: () => '/console/login' },
  { method: 'POST', route: '/console/login', access: 'public', path: () => '/console/login', form: { client_id: 'x', client_secret: 'y' } },
  { method: 'POST', route: '/console/logout', access: 'user', path: () => '/console/logout', form: {} },
  { method: 'GET', route: '/console/assets/:name', access: 'public', path: () => '/console/assets/console.css' },
  { method: 'GET', route: '/console/connections', access: 'user', path: () => '/console/connections' },
  { method: 'POST', route: '/console/connections/:client_id/connect', access: 'member', path: (i) => `/console/connections/${enc(i.clientId)}/connect`, form: {} },
  { method: 'POST', route: '/console/connections/:client_id/disconnect', access: 'member', path: (i) => `/console/connections/${enc(i.clientId)}/disconnect`, form: {} },
  { method: 'GET', route: '/console/applications', access: 'admin', path: () => '/console/applications' },
  { method: 'GET', route: '/console/applications/new', access: 'admin', path: () => '/console/applications/new' },
  { method: 'POST', route: '/console/applications', access: 'admin', path: () => '/console/applications', form: { name: 'Made by a non-admin', client_id: 'nonadmin-app', client_secret: 'nonadmin-secret-0123456789abc' } },
  { method: 'GET', route: '/console/applications/:client_id/edit', access: 'admin', path: (i) => `${app(i)}/edit` },
  { method: 'POST', route: '/console/applications/:client_id/edit', access: 'admin', path: (i) => `${app(i)}/edit`, form: { name: 'Renamed by a non-admin' } },
  { method: 'POST', route: '/console/applications/:client_id/check', access: 'admin', path: (i) => `${app(i)}/check`, form: {} },
  { method: 'GET', route: '/console/applications/:client_id/connections', access: 'admin', path: (i) => `${app(i)}/connections` },
  {
    method: 'POST',
    route: '/console/applications/:client_id/connections/:user_id/revoke',
    access: 'admin',
    path: (i) => `${app(i)}/connections/${enc(i.userId)}/revoke`,
    form: {},
  },
  { method: 'GET', route: '/console/applications/:client_id/delete', access: 'admin', path: (i) => `${app(i)}/delete` },
  { method: 'POST', route: '/console/applications/:client_id/delete', access: 'admin', path: (i) => `${app(i)}/delete`, form: {} },
  { method: 'GET', route: '/console/users', access: 'admin', path: () => '/console/users' },
  { method: 'GET', route: '/console/users/new', access: 'admin', path: () => '/console/users/new' },
  { method: 'POST', route: '/console/users', access: 'admin', path: () => '/console/users', form: { first_name: 'Intruder', role_ids: '1' } },
  { method: 'GET', route: '/console/users/:user_id', access: 'admin', path: user },
  { method: 'POST', route: '/console/users/:user_id', access: 'admin', path: user, form: { first_name: 'Changed', is_disabled: 'true' } },
  { method: 'POST', route: '/console/users/:user_id/roles', access: 'admin', path: (i) => `${user(i)}/roles`, form: { role_ids: '1' } },
  { method: 'GET', route: '/console/users/:user_id/delete', access: 'admin', path: (i) => `${user(i)}/delete` },
  { method: 'POST', route: '/console/users/:user_id/delete', access: 'admin', path: (i) => `${user(i)}/delete`, form: {} },
  { method: 'POST', route: '/console/users/:user_id/credentials', access: 'admin', path: (i) => `${user(i)}/credentials`, form: { purpose: 'stolen' } },
  {
    method: 'POST',
    route: '/console/users/:user_id/credentials/:credentials_id',
    access: 'admin',
    path: (i) => `${user(i)}/credentials/${enc(i.credentialsId)}`,
    form: { is_disabled: 'true' },
  },
  {
    method: 'POST',
    route: '/console/users/:user_id/credentials/:credentials_id/delete',
    access: 'admin',
    path: (i) => `${user(i)}/credentials/${enc(i.credentialsId)}/delete`,
    form: {},
  },
  { method: 'GET', route: '/console/roles', access: 'admin', path: () => '/console/roles' },
  { method: 'GET', route: '/console/audit-events', access: 'admin', path: () => '/console/audit-events' },
];
