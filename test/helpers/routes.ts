import type { FastifyInstance } from 'fastify';
import type { Access } from '../../src/http/auth.ts';
import { documentedOperations, type DocumentedOperation } from './served-document.ts';

/**
 * Every route the service registers, once, with who may call it. This one table drives the tests that
 * must cover every route: the auth cases (test/api/auth.test.ts), the bad-input cases
 * (test/api/bad-input.test.ts), the authorization matrix (test/authz/matrix.test.ts), the fuzz suites
 * (test/fuzz/*) and the query and header checks (test/http/*); the console's tests read CONSOLE_ROUTES.
 * test/api/route-table.test.ts fails when a route fastify serves is missing here (or a row names a route it
 * does not serve), when the table and the served OpenAPI document disagree on an operation, or when a
 * row's access is not what the document says of it.
 *
 * `access` is the server's own type (src/http/auth.ts), and each row says what its route declares in
 * `config: { access }`; the auth cases and the matrix then hold every route to it, caller by caller.
 */
export type { Access };

export type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

export interface ApiRoute {
  /** The operation's id; a hidden route names the operation it repeats, or what it is (`healthz`). */
  operationId: string;
  method: Method;
  /** As registered with fastify: `/api/4.0/users/:user_id`. */
  route: string;
  access: Access;
  /** Left out of the OpenAPI document: an alias of a documented operation, a probe, the reference. */
  hidden?: true;
  /** The status of success (the OAuth callback, without a live state, refuses everyone alike: 400). */
  success: 200 | 204 | 302 | 400;
  /** A valid body, for routes that take one. */
  body?: unknown;
  /** The body's JSON type, for the "wrong body type" cases. */
  bodyType?: 'object' | 'array';
  /** The body may be left out (create_user_credentials_api3 takes none from the SDK). */
  bodyOptional?: true;
  /** Login: a form body (what the SDKs send) is accepted as well as JSON. */
  formBody?: true;
  /**
   * A non-admin may act only on their own user, named by the body's `user_id` (the service checks it):
   * the matrix tries their own and another user's, as for a `self` route's path.
   */
  ownUserInBody?: true;
  /** Calling it ends the caller's token (logout). */
  consumesToken?: true;
}

/** Path parameter values, by name; a route's path is its `route` with each `:name` replaced. */
export type PathParams = Record<string, string>;

const USERS = '/api/4.0/users';
const APPS = '/api/4.0/external_oauth_applications';
const REFERENCE = '/api/4.0/docs';

export const API_ROUTES: ApiRoute[] = [
  // Public: no token needed.
  { operationId: 'versions', method: 'GET', route: '/versions', access: 'public', success: 200 },
  { operationId: 'versions', method: 'GET', route: '/api/versions', access: 'public', success: 200, hidden: true },
  { operationId: 'versions', method: 'GET', route: '/api/4.0/versions', access: 'public', success: 200, hidden: true },
  { operationId: 'login', method: 'POST', route: '/api/4.0/login', access: 'public', success: 200, body: { client_id: 'x', client_secret: 'y' }, bodyType: 'object', formBody: true },
  { operationId: 'healthz', method: 'GET', route: '/healthz', access: 'public', success: 200, hidden: true },
  { operationId: 'readyz', method: 'GET', route: '/readyz', access: 'public', success: 200, hidden: true },
  { operationId: 'error_docs', method: 'GET', route: '/docs/errors', access: 'public', success: 200, hidden: true },
  { operationId: 'openapi', method: 'GET', route: '/api/4.0/openapi.json', access: 'public', success: 200, hidden: true },
  { operationId: 'openapi', method: 'GET', route: '/api/4.0/swagger.json', access: 'public', success: 200, hidden: true },
  // The API reference (Swagger UI's own routes, made public by src/plugins/api-reference.ts).
  { operationId: 'api_reference', method: 'GET', route: REFERENCE, access: 'public', success: 200, hidden: true },
  { operationId: 'api_reference', method: 'GET', route: `${REFERENCE}/static/index.html`, access: 'public', success: 302, hidden: true },
  { operationId: 'api_reference', method: 'GET', route: `${REFERENCE}/static/swagger-initializer.js`, access: 'public', success: 200, hidden: true },
  { operationId: 'api_reference', method: 'GET', route: `${REFERENCE}/*`, access: 'public', success: 200, hidden: true },
  { operationId: 'api_reference', method: 'GET', route: `${REFERENCE}/json`, access: 'public', success: 200, hidden: true },
  { operationId: 'api_reference', method: 'GET', route: `${REFERENCE}/yaml`, access: 'public', success: 200, hidden: true },
  { operationId: 'external_oauth_redirect', method: 'GET', route: '/external_oauth/redirect', access: 'public', success: 400 },

  // Sessions.
  { operationId: 'login_user', method: 'POST', route: '/api/4.0/login/:user_id', access: 'admin', success: 200 },
  { operationId: 'logout', method: 'DELETE', route: '/api/4.0/logout', access: 'user', success: 204, consumesToken: true },
  { operationId: 'logout', method: 'DELETE', route: '/api/logout', access: 'user', success: 204, consumesToken: true, hidden: true },

  // Users, their API credentials and roles.
  { operationId: 'me', method: 'GET', route: '/api/4.0/user', access: 'user', success: 200 },
  { operationId: 'all_users', method: 'GET', route: USERS, access: 'admin', success: 200 },
  { operationId: 'create_user', method: 'POST', route: USERS, access: 'admin', success: 200, body: { first_name: 'New' }, bodyType: 'object' },
  { operationId: 'user', method: 'GET', route: `${USERS}/:user_id`, access: 'self', success: 200 },
  { operationId: 'update_user', method: 'PATCH', route: `${USERS}/:user_id`, access: 'admin', success: 200, body: { last_name: 'Changed' }, bodyType: 'object' },
  { operationId: 'delete_user', method: 'DELETE', route: `${USERS}/:user_id`, access: 'admin', success: 204 },
  { operationId: 'all_user_credentials_api3s', method: 'GET', route: `${USERS}/:user_id/credentials_api3`, access: 'admin', success: 200 },
  {
    operationId: 'create_user_credentials_api3', method: 'POST', route: `${USERS}/:user_id/credentials_api3`, access: 'admin', success: 200,
    body: { purpose: 'ci' }, bodyType: 'object', bodyOptional: true,
  },
  { operationId: 'user_credentials_api3', method: 'GET', route: `${USERS}/:user_id/credentials_api3/:credentials_api3_id`, access: 'admin', success: 200 },
  {
    operationId: 'update_user_credentials_api3', method: 'PATCH', route: `${USERS}/:user_id/credentials_api3/:credentials_api3_id`, access: 'admin', success: 200,
    body: { purpose: 'renamed' }, bodyType: 'object',
  },
  { operationId: 'delete_user_credentials_api3', method: 'DELETE', route: `${USERS}/:user_id/credentials_api3/:credentials_api3_id`, access: 'admin', success: 204 },
  { operationId: 'all_roles', method: 'GET', route: '/api/4.0/roles', access: 'admin', success: 200 },
  { operationId: 'user_roles', method: 'GET', route: `${USERS}/:user_id/roles`, access: 'self', success: 200 },
  { operationId: 'set_user_roles', method: 'PUT', route: `${USERS}/:user_id/roles`, access: 'admin', success: 200, body: ['2'], bodyType: 'array' },

  // External OAuth applications and the user states Looker pushes.
  { operationId: 'all_external_oauth_applications', method: 'GET', route: APPS, access: 'admin', success: 200 },
  {
    operationId: 'create_external_oauth_application', method: 'POST', route: APPS, access: 'admin', success: 200,
    body: { name: 'Table row', client_id: 'table-row', client_secret: 'table-row-secret-0123456789' }, bodyType: 'object',
  },
  { operationId: 'update_external_oauth_application', method: 'PATCH', route: `${APPS}/:client_id`, access: 'admin', success: 200, body: { name: 'Renamed' }, bodyType: 'object' },
  { operationId: 'delete_external_oauth_application', method: 'DELETE', route: `${APPS}/:client_id`, access: 'admin', success: 204 },
  {
    operationId: 'create_oauth_application_user_state', method: 'POST', route: `${APPS}/user_state`, access: 'member', success: 200, ownUserInBody: true,
    body: { user_id: '1', oauth_application_id: '1', access_token: 'table-row-access-token-0123', access_token_expires_at: '2031-01-01T00:00:00Z' },
    bodyType: 'object',
  },

  // The OAuth broker (ours): connecting, the token side, the check.
  {
    operationId: 'authorize_external_oauth_application', method: 'POST', route: `${APPS}/:client_id/authorize`, access: 'member', success: 200,
    body: { return_to: '/done' }, bodyType: 'object', bodyOptional: true,
  },
  {
    operationId: 'external_oauth_application_access_token', method: 'POST', route: `${APPS}/:client_id/access_token`, access: 'member', success: 200, ownUserInBody: true,
    body: { user_id: '1' }, bodyType: 'object', bodyOptional: true,
  },
  { operationId: 'all_external_oauth_application_user_states', method: 'GET', route: `${APPS}/:client_id/user_states`, access: 'admin', success: 200 },
  { operationId: 'external_oauth_application_user_state', method: 'GET', route: `${APPS}/:client_id/user_states/:user_id`, access: 'self', success: 200 },
  { operationId: 'delete_external_oauth_application_user_state', method: 'DELETE', route: `${APPS}/:client_id/user_states/:user_id`, access: 'self', success: 204 },
  { operationId: 'check_external_oauth_application', method: 'POST', route: `${APPS}/:client_id/check`, access: 'admin', success: 200 },

  // Ours: the audit log.
  { operationId: 'all_audit_events', method: 'GET', route: '/api/4.0/audit_events', access: 'admin', success: 200 },
];

/** The path parameters a route declares, in order: `['user_id', 'credentials_api3_id']`. */
export function paramsOf(route: { route: string }): string[] {
  return [...route.route.matchAll(/:(\w+)/g)].map((m) => m[1]);
}

/**
 * The route's path with its parameters filled in, as given (the caller encodes them: some tests send odd
 * encodings on purpose). A wildcard is filled with `*` when given, else a file Swagger UI serves.
 */
export function pathOf(route: { route: string }, params: PathParams = {}): string {
  return route.route
    .replace(/:(\w+)/g, (_m, name: string) => {
      if (params[name] === undefined) throw new Error(`${route.route}: no value for :${name}`);
      return params[name];
    })
    .replace(/\*$/, () => params['*'] ?? 'static/swagger-ui.css');
}

/** `POST /api/4.0/users/:user_id/credentials_api3`: a row as a test's name. */
export function describeRoute(route: { method: string; route: string }): string {
  return `${route.method} ${route.route}`;
}

/** The route in the OpenAPI document's spelling: `/api/4.0/users/{user_id}`. */
export function openApiPath(route: { route: string }): string {
  return route.route.replace(/:(\w+)/g, '{$1}');
}

/** The documented rows (and only those) with what the served document says of them: parameters and schemas. */
export interface ServedRoute extends ApiRoute {
  /** OpenAPI form: `/api/4.0/users/{user_id}`. */
  path: string;
  params: string[];
  query: string[];
  /** The JSON body schema ($refs resolved), for routes that take one. */
  bodySchema?: DocumentedOperation['body'];
  /** The 200 response's schema, $refs resolved. */
  ok?: DocumentedOperation['ok'];
}

/**
 * Every row of API_ROUTES, joined with the app's own OpenAPI document where it is documented (query
 * parameters, body and response schemas). Throws when a documented row is not in the document: the
 * table is checked against it by test/api/route-table.test.ts, and a suite never runs on half a table.
 */
export function servedRoutes(app: FastifyInstance, rows: ApiRoute[] = API_ROUTES): ServedRoute[] {
  const documented = new Map(documentedOperations(app).map((op) => [`${op.method} ${op.path}`, op]));
  return rows.map((row) => {
    const path = openApiPath(row);
    if (row.hidden) return { ...row, path, params: paramsOf(row), query: [] };
    const op = documented.get(`${row.method} ${path}`);
    if (!op || op.operationId !== row.operationId) throw new Error(`${describeRoute(row)} (${row.operationId}) is not in the served OpenAPI document as such`);
    return { ...row, path, params: op.params, query: op.query, bodySchema: op.body, ok: op.ok };
  });
}

/**
 * Every route of the web console (and `/`, which redirects to it), once. Console pages are not API
 * operations: they are hidden from the OpenAPI document and answer with pages and redirects, so they are
 * their own table, with the same access levels (a console route is never `self`: src/console/routes.ts).
 * test/console/console.test.ts generates the signed-out and non-admin cases of every row.
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
  access: Exclude<Access, 'self'>;
  path: (ids: ConsoleIds) => string;
  /** A valid form for POST routes (the CSRF token is added by the client). */
  form?: Record<string, string | string[]>;
}

const enc = encodeURIComponent;
const consoleApp = (i: ConsoleIds) => `/console/applications/${enc(i.clientId)}`;
const consoleUser = (i: ConsoleIds) => `/console/users/${enc(i.userId)}`;

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
  { method: 'GET', route: '/console/applications/:client_id/edit', access: 'admin', path: (i) => `${consoleApp(i)}/edit` },
  { method: 'POST', route: '/console/applications/:client_id/edit', access: 'admin', path: (i) => `${consoleApp(i)}/edit`, form: { name: 'Renamed by a non-admin' } },
  { method: 'POST', route: '/console/applications/:client_id/check', access: 'admin', path: (i) => `${consoleApp(i)}/check`, form: {} },
  { method: 'GET', route: '/console/applications/:client_id/connections', access: 'admin', path: (i) => `${consoleApp(i)}/connections` },
  {
    method: 'POST',
    route: '/console/applications/:client_id/connections/:user_id/revoke',
    access: 'admin',
    path: (i) => `${consoleApp(i)}/connections/${enc(i.userId)}/revoke`,
    form: {},
  },
  { method: 'GET', route: '/console/applications/:client_id/delete', access: 'admin', path: (i) => `${consoleApp(i)}/delete` },
  { method: 'POST', route: '/console/applications/:client_id/delete', access: 'admin', path: (i) => `${consoleApp(i)}/delete`, form: {} },
  { method: 'GET', route: '/console/users', access: 'admin', path: () => '/console/users' },
  { method: 'GET', route: '/console/users/new', access: 'admin', path: () => '/console/users/new' },
  { method: 'POST', route: '/console/users', access: 'admin', path: () => '/console/users', form: { first_name: 'Intruder', role_ids: '1' } },
  { method: 'GET', route: '/console/users/:user_id', access: 'admin', path: consoleUser },
  { method: 'POST', route: '/console/users/:user_id', access: 'admin', path: consoleUser, form: { first_name: 'Changed', is_disabled: 'true' } },
  { method: 'POST', route: '/console/users/:user_id/roles', access: 'admin', path: (i) => `${consoleUser(i)}/roles`, form: { role_ids: '1' } },
  { method: 'GET', route: '/console/users/:user_id/delete', access: 'admin', path: (i) => `${consoleUser(i)}/delete` },
  { method: 'POST', route: '/console/users/:user_id/delete', access: 'admin', path: (i) => `${consoleUser(i)}/delete`, form: {} },
  { method: 'POST', route: '/console/users/:user_id/credentials', access: 'admin', path: (i) => `${consoleUser(i)}/credentials`, form: { purpose: 'stolen' } },
  {
    method: 'POST',
    route: '/console/users/:user_id/credentials/:credentials_id',
    access: 'admin',
    path: (i) => `${consoleUser(i)}/credentials/${enc(i.credentialsId)}`,
    form: { is_disabled: 'true' },
  },
  {
    method: 'POST',
    route: '/console/users/:user_id/credentials/:credentials_id/delete',
    access: 'admin',
    path: (i) => `${consoleUser(i)}/credentials/${enc(i.credentialsId)}/delete`,
    form: {},
  },
  { method: 'GET', route: '/console/roles', access: 'admin', path: () => '/console/roles' },
  { method: 'GET', route: '/console/audit-events', access: 'admin', path: () => '/console/audit-events' },
];

/**
 * Every route fastify has registered, `METHOD url` (HEAD left out: fastify adds it to each GET), read from
 * its route tree: what the service really serves, documented or not.
 */
export function registeredRoutes(app: FastifyInstance): string[] {
  const stack: string[] = [];
  const found: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const match = /^((?:[│ ] {3})*)[├└]── (.+?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!match) continue;
    const depth = match[1].length / 4;
    stack.length = depth;
    stack.push(match[2]);
    // The tree prints a wildcard under its parent's shared `/` (`docs` then `*`): the route is `docs/*`.
    const url = stack.join('').replace(/^\/\//, '/').replace(/([^/])\*$/, '$1/*');
    for (const method of match[3]?.split(', ') ?? []) if (method !== 'HEAD') found.push(`${method} ${url}`);
  }
  return found.sort();
}
