import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ADMIN, bearer, buildTestApp, json, loginToken, type TestApp } from '../helpers/app.ts';
import { assertResponse } from '../helpers/contract.ts';
import { tokenDigest } from '../../src/crypto/password.ts';
import { randomSecret, storeDigest } from '../reliability/support.ts';

/**
 * The authorization matrix: every endpoint × every kind of caller → the expected status, generated from
 * the one table below. A caller is one of seventeen principals; an endpoint says who may call it (`access`, as
 * the README documents it) and what success is. Expected statuses follow from those two facts alone:
 *   public endpoints answer everyone; any other answers 401 to a caller without a live session;
 *   admin-only endpoints answer 404 to a non-admin (Looker hides what the caller may not use);
 *   `self` and `own` rows succeed for a non-admin only on their own user; rows that need a role (`member`
 *   routes) answer 404 to a user with none; a `login/{user_id}` token cannot call `login_user`.
 * Every denied request must leave the store exactly as it was, and every body fits the excerpt spec.
 */

type Access = 'public' | 'user' | 'self-own' | 'self-other' | 'admin';

interface Principal {
  name: string;
  /** Has a live session: admin, non-admin, or the admin acting as the non-admin. */
  live: boolean;
  admin: boolean;
  /** A token from `login/{user_id}`: it may not mint another (403 where it acts as an admin). */
  sudo?: boolean;
  /** A user with no role: logs in and reads itself, but may not act on data (`member` routes). */
  roleless?: boolean;
  /** The user the token acts as (null for tokens that resolve to no one). */
  userId: () => string | null;
  /** The Authorization header; `fresh` for endpoints that use the token up (logout). */
  header: (fresh: boolean) => Promise<string | undefined>;
}

interface Endpoint {
  operationId: string;
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  /** The route as registered; the table must cover every operation of the OpenAPI document. */
  route: string;
  access: Access;
  /** 400 only for the OAuth callback, which answers everyone alike and, without a live state, says so. */
  success: 200 | 204 | 400;
  /** The answer is an HTML page for a browser (the OAuth callback), held to its headers, not to a schema. */
  html?: boolean;
  /** Builds the request for one cell; `forSuccess` when this cell is expected to change something. */
  request: (p: Principal, forSuccess: boolean) => Promise<{ url: string; payload?: unknown; form?: boolean }>;
  consumesToken?: boolean;
  /** Declared `member`: a role (User or Admin) is needed, not just a login. */
  needsRole?: boolean;
}

let t: TestApp;
let member: { id: string; token: string; client_id: string; client_secret: string };
let other: { id: string };
let application: { id: string; client_id: string };
/** An application with provider settings, so `authorize` can succeed (a Snowflake preset; nothing is called). */
let connectable: { id: string; client_id: string };
/** The broker's token endpoints: every user the table names holds a fresh token here (nothing is refreshed). */
let tokenApp: { id: string; client_id: string };
/** Where a disconnect that is expected to succeed deletes a state made for it just before. */
let disconnectApp: { id: string; client_id: string };
const pushState = (userId: string, app: { id: string }) =>
  create('/api/4.0/external_oauth_applications/user_state', {
    user_id: userId, oauth_application_id: app.id, access_token: randomSecret(), access_token_expires_at: '2031-01-01T00:00:00Z', refresh_token: randomSecret(),
  });
const brokerPath = (app: { client_id: string }, rest: string) => `/api/4.0/external_oauth_applications/${enc(app.client_id)}/${rest}`;

const admin = () => bearer(t.adminToken);
const create = async (url: string, payload: unknown) => {
  const response = await t.inject({ method: 'POST', url, headers: admin(), payload: payload as object });
  assert.equal(response.statusCode, 200, `${url}: ${response.body}`);
  return json(response);
};
const freshUser = () => create('/api/4.0/users', { first_name: 'Matrix' });
const freshCredentials = async () => {
  const user = await freshUser();
  const creds = await create(`/api/4.0/users/${user.id}/credentials_api3`, {});
  return { userId: user.id as string, id: creds.id as string, client_id: creds.client_id as string, client_secret: creds.client_secret as string };
};
const freshApplication = () =>
  create('/api/4.0/external_oauth_applications', { name: `matrix ${randomBytes(6).toString('hex')}`, client_id: `matrix/${randomBytes(6).toString('hex')}`, client_secret: randomSecret() });
const enc = encodeURIComponent;

/** An admin (not user 1) whose session is then broken in the given way. */
async function brokenAdmin(breakIt: (creds: Awaited<ReturnType<typeof freshCredentials>>, token: string) => Promise<void>) {
  const creds = await freshCredentials();
  const put = await t.inject({ method: 'PUT', url: `/api/4.0/users/${creds.userId}/roles`, headers: admin(), payload: ['1'] });
  assert.equal(put.statusCode, 200);
  const token = await loginToken(t.app, creds.client_id, creds.client_secret);
  await breakIt(creds, token);
  return { token, userId: creds.userId };
}

const fixed = (name: string, header: string | undefined, userId: string | null = null): Principal => ({
  name,
  live: false,
  admin: false,
  userId: () => userId,
  header: async () => header,
});

async function principals(): Promise<Principal[]> {
  const disabled = await brokenAdmin(async (creds) => {
    const r = await t.inject({ method: 'PATCH', url: `/api/4.0/users/${creds.userId}`, headers: admin(), payload: { is_disabled: true } });
    assert.equal(r.statusCode, 200);
  });
  const noCredentials = await brokenAdmin(async (creds) => {
    const r = await t.inject({ method: 'DELETE', url: `/api/4.0/users/${creds.userId}/credentials_api3/${creds.id}`, headers: admin() });
    assert.equal(r.statusCode, 204);
  });
  const loggedOut = await brokenAdmin(async (_creds, token) => {
    const r = await t.inject({ method: 'DELETE', url: '/api/4.0/logout', headers: bearer(token) });
    assert.equal(r.statusCode, 204);
  });
  // An expired session of the real admin, written where the service keeps sessions.
  const expired = randomBytes(32).toString('base64url');
  const [adminCredentials] = await t.app.repos.credentials.listForUser('1');
  await t.app.repos.sessions.insert({
    token_hash: tokenDigest(expired),
    user_id: '1',
    principal_user_id: '1',
    credentials_api3_id: adminCredentials.id,
    expires_at: new Date(Date.now() - 60_000).toISOString(),
  });

  /**
   * Issue 10, defect 1: a `login/{user_id}` token whose holder (a fresh admin, not user 1) is then broken
   * in the given way. Broken before the token is ever used, so no cache has seen it.
   */
  const brokenHolder = async (breakIt: (holder: Awaited<ReturnType<typeof freshCredentials>>) => Promise<void>) => {
    let token = '';
    await brokenAdmin(async (creds, holderToken) => {
      const minted = await t.inject({ method: 'POST', url: `/api/4.0/login/${member.id}`, headers: bearer(holderToken) });
      assert.equal(minted.statusCode, 200);
      token = json(minted).access_token;
      await breakIt(creds);
    });
    return token;
  };
  const holderDemoted = await brokenHolder(async (holder) => {
    const r = await t.inject({ method: 'PUT', url: `/api/4.0/users/${holder.userId}/roles`, headers: admin(), payload: ['2'] });
    assert.equal(r.statusCode, 200);
  });
  // As a demotion through another instance, or racing the mint, leaves it: the role row gone, the session not.
  const holderRoleGone = await brokenHolder(async (holder) => {
    await t.app.store.db.deleteFrom('user_roles').where('user_id', '=', holder.userId).execute();
  });
  const holderDisabled = await brokenHolder(async (holder) => {
    const r = await t.inject({ method: 'PATCH', url: `/api/4.0/users/${holder.userId}`, headers: admin(), payload: { is_disabled: true } });
    assert.equal(r.statusCode, 200);
  });
  const holderNoCredentials = await brokenHolder(async (holder) => {
    const r = await t.inject({ method: 'DELETE', url: `/api/4.0/users/${holder.userId}/credentials_api3/${holder.id}`, headers: admin() });
    assert.equal(r.statusCode, 204);
  });
  const holderCredentialsDisabled = await brokenHolder(async (holder) => {
    const r = await t.inject({ method: 'PATCH', url: `/api/4.0/users/${holder.userId}/credentials_api3/${holder.id}`, headers: admin(), payload: { is_disabled: true } });
    assert.equal(r.statusCode, 200);
  });

  // A user with no role, and the admin acting as another admin.
  const roleless = await freshCredentials();
  const rolelessToken = await loginToken(t.app, roleless.client_id, roleless.client_secret);
  const otherAdmin = await freshUser();
  assert.equal((await t.inject({ method: 'PUT', url: `/api/4.0/users/${otherAdmin.id}/roles`, headers: admin(), payload: ['1'] })).statusCode, 200);
  const sudoAdmin = async () => json(await t.inject({ method: 'POST', url: `/api/4.0/login/${otherAdmin.id}`, headers: admin() })).access_token as string;
  const sudoAdminToken = await sudoAdmin();

  const sudo = async () => json(await t.inject({ method: 'POST', url: `/api/4.0/login/${member.id}`, headers: admin() })).access_token as string;
  let sudoToken = await sudo();
  return [
    fixed('no token', undefined),
    fixed('malformed header', 'Bearer this is not a token!'),
    fixed('unknown token', `Bearer ${randomBytes(32).toString('base64url')}`),
    fixed('expired token', `token ${expired}`, '1'),
    fixed('logged-out token', `Bearer ${loggedOut.token}`, loggedOut.userId),
    fixed('disabled user', `Bearer ${disabled.token}`, disabled.userId),
    fixed('deleted credentials', `Bearer ${noCredentials.token}`, noCredentials.userId),
    {
      name: 'non-admin',
      live: true,
      admin: false,
      userId: () => member.id,
      header: async (fresh) => `Bearer ${fresh ? await loginToken(t.app, member.client_id, member.client_secret) : member.token}`,
    },
    {
      name: 'admin',
      live: true,
      admin: true,
      userId: () => '1',
      header: async (fresh) => `Bearer ${fresh ? await loginToken(t.app, ADMIN.client_id, ADMIN.client_secret) : t.adminToken}`,
    },
    {
      name: 'admin as user (login/{user_id})',
      live: true,
      admin: false,
      sudo: true,
      userId: () => member.id,
      header: async (fresh) => `Bearer ${fresh ? await sudo() : (sudoToken ??= await sudo())}`,
    },
    {
      name: 'admin as another admin (login/{user_id})',
      live: true,
      admin: true,
      sudo: true,
      userId: () => otherAdmin.id,
      header: async (fresh) => `Bearer ${fresh ? await sudoAdmin() : sudoAdminToken}`,
    },
    {
      name: 'user with no role',
      live: true,
      admin: false,
      roleless: true,
      userId: () => roleless.userId,
      header: async (fresh) => `Bearer ${fresh ? await loginToken(t.app, roleless.client_id, roleless.client_secret) : rolelessToken}`,
    },
    fixed('login/{user_id}, holder demoted', `Bearer ${holderDemoted}`, member.id),
    fixed('login/{user_id}, holder lost Admin behind the service', `Bearer ${holderRoleGone}`, member.id),
    fixed('login/{user_id}, holder disabled', `Bearer ${holderDisabled}`, member.id),
    fixed('login/{user_id}, holder credentials deleted', `Bearer ${holderNoCredentials}`, member.id),
    fixed('login/{user_id}, holder credentials disabled', `Bearer ${holderCredentialsDisabled}`, member.id),
  ];
}

/** The one table. `self-own` targets the caller's own user, `self-other` someone else. */
const ENDPOINTS: Endpoint[] = [
  { operationId: 'versions', method: 'GET', route: '/versions', access: 'public', success: 200, request: async () => ({ url: '/versions' }) },
  { operationId: 'versions', method: 'GET', route: '/api/4.0/versions', access: 'public', success: 200, request: async () => ({ url: '/api/4.0/versions' }) },
  {
    operationId: 'login', method: 'POST', route: '/api/4.0/login', access: 'public', success: 200,
    request: async () => ({ url: '/api/4.0/login', form: true, payload: new URLSearchParams({ client_id: member.client_id, client_secret: member.client_secret }).toString() }),
  },
  { operationId: 'login_user', method: 'POST', route: '/api/4.0/login/:user_id', access: 'admin', success: 200, request: async () => ({ url: `/api/4.0/login/${member.id}` }) },
  { operationId: 'logout', method: 'DELETE', route: '/api/4.0/logout', access: 'user', success: 204, consumesToken: true, request: async () => ({ url: '/api/4.0/logout' }) },
  { operationId: 'logout', method: 'DELETE', route: '/api/logout', access: 'user', success: 204, consumesToken: true, request: async () => ({ url: '/api/logout' }) },
  { operationId: 'me', method: 'GET', route: '/api/4.0/user', access: 'user', success: 200, request: async () => ({ url: '/api/4.0/user' }) },
  { operationId: 'all_users', method: 'GET', route: '/api/4.0/users', access: 'admin', success: 200, request: async () => ({ url: '/api/4.0/users?limit=5' }) },
  { operationId: 'create_user', method: 'POST', route: '/api/4.0/users', access: 'admin', success: 200, request: async () => ({ url: '/api/4.0/users', payload: { first_name: 'Made' } }) },
  { operationId: 'user', method: 'GET', route: '/api/4.0/users/:user_id', access: 'self-own', success: 200, request: async (p) => ({ url: `/api/4.0/users/${p.userId() ?? member.id}` }) },
  { operationId: 'user', method: 'GET', route: '/api/4.0/users/:user_id', access: 'self-other', success: 200, request: async () => ({ url: `/api/4.0/users/${other.id}` }) },
  {
    operationId: 'update_user', method: 'PATCH', route: '/api/4.0/users/:user_id', access: 'admin', success: 200,
    request: async () => ({ url: `/api/4.0/users/${other.id}`, payload: { last_name: `L${randomBytes(3).toString('hex')}` } }),
  },
  {
    operationId: 'delete_user', method: 'DELETE', route: '/api/4.0/users/:user_id', access: 'admin', success: 204,
    request: async (_p, forSuccess) => ({ url: `/api/4.0/users/${forSuccess ? (await freshUser()).id : other.id}` }),
  },
  { operationId: 'all_user_credentials_api3s', method: 'GET', route: '/api/4.0/users/:user_id/credentials_api3', access: 'admin', success: 200, request: async () => ({ url: `/api/4.0/users/${member.id}/credentials_api3` }) },
  { operationId: 'create_user_credentials_api3', method: 'POST', route: '/api/4.0/users/:user_id/credentials_api3', access: 'admin', success: 200, request: async () => ({ url: `/api/4.0/users/${other.id}/credentials_api3`, payload: {} }) },
  {
    operationId: 'user_credentials_api3', method: 'GET', route: '/api/4.0/users/:user_id/credentials_api3/:credentials_api3_id', access: 'admin', success: 200,
    request: async () => ({ url: `/api/4.0/users/${member.id}/credentials_api3/${(await t.app.repos.credentials.listForUser(member.id))[0].id}` }),
  },
  {
    operationId: 'update_user_credentials_api3', method: 'PATCH', route: '/api/4.0/users/:user_id/credentials_api3/:credentials_api3_id', access: 'admin', success: 200,
    request: async (_p, forSuccess) => {
      const c = forSuccess ? await freshCredentials() : { userId: member.id, id: (await t.app.repos.credentials.listForUser(member.id))[0].id };
      return { url: `/api/4.0/users/${c.userId}/credentials_api3/${c.id}`, payload: { purpose: 'matrix' } };
    },
  },
  {
    operationId: 'delete_user_credentials_api3', method: 'DELETE', route: '/api/4.0/users/:user_id/credentials_api3/:credentials_api3_id', access: 'admin', success: 204,
    request: async (_p, forSuccess) => {
      const c = forSuccess ? await freshCredentials() : { userId: member.id, id: (await t.app.repos.credentials.listForUser(member.id))[0].id };
      return { url: `/api/4.0/users/${c.userId}/credentials_api3/${c.id}` };
    },
  },
  { operationId: 'all_roles', method: 'GET', route: '/api/4.0/roles', access: 'admin', success: 200, request: async () => ({ url: '/api/4.0/roles' }) },
  { operationId: 'user_roles', method: 'GET', route: '/api/4.0/users/:user_id/roles', access: 'self-own', success: 200, request: async (p) => ({ url: `/api/4.0/users/${p.userId() ?? member.id}/roles` }) },
  { operationId: 'user_roles', method: 'GET', route: '/api/4.0/users/:user_id/roles', access: 'self-other', success: 200, request: async () => ({ url: `/api/4.0/users/${other.id}/roles` }) },
  {
    operationId: 'set_user_roles', method: 'PUT', route: '/api/4.0/users/:user_id/roles', access: 'admin', success: 200,
    request: async (_p, forSuccess) => ({ url: `/api/4.0/users/${forSuccess ? (await freshUser()).id : other.id}/roles`, payload: ['2'] }),
  },
  { operationId: 'all_external_oauth_applications', method: 'GET', route: '/api/4.0/external_oauth_applications', access: 'admin', success: 200, request: async () => ({ url: '/api/4.0/external_oauth_applications' }) },
  {
    operationId: 'create_external_oauth_application', method: 'POST', route: '/api/4.0/external_oauth_applications', access: 'admin', success: 200,
    request: async () => ({ url: '/api/4.0/external_oauth_applications', payload: { name: `made ${randomBytes(6).toString('hex')}`, client_id: `made-${randomBytes(6).toString('hex')}`, client_secret: randomSecret() } }),
  },
  {
    operationId: 'update_external_oauth_application', method: 'PATCH', route: '/api/4.0/external_oauth_applications/:client_id', access: 'admin', success: 200,
    request: async () => ({ url: `/api/4.0/external_oauth_applications/${enc(application.client_id)}`, payload: { client_secret: randomSecret() } }),
  },
  {
    operationId: 'delete_external_oauth_application', method: 'DELETE', route: '/api/4.0/external_oauth_applications/:client_id', access: 'admin', success: 204,
    request: async (_p, forSuccess) => ({ url: `/api/4.0/external_oauth_applications/${enc(forSuccess ? (await freshApplication()).client_id : application.client_id)}` }),
  },
  {
    operationId: 'authorize_external_oauth_application', method: 'POST', route: '/api/4.0/external_oauth_applications/:client_id/authorize', access: 'user', success: 200, needsRole: true,
    request: async () => ({ url: `/api/4.0/external_oauth_applications/${enc(connectable.client_id)}/authorize`, payload: { return_to: '/done' } }),
  },
  {
    operationId: 'external_oauth_redirect', method: 'GET', route: '/external_oauth/redirect', access: 'public', success: 400, html: true,
    request: async () => ({ url: `/external_oauth/redirect?code=${randomBytes(8).toString('hex')}&state=${randomBytes(32).toString('base64url')}` }),
  },
  { operationId: 'all_audit_events', method: 'GET', route: '/api/4.0/audit_events', access: 'admin', success: 200, request: async () => ({ url: '/api/4.0/audit_events?limit=5' }) },
  ...(['self-own', 'self-other'] as const).map(
    (access): Endpoint => ({
      operationId: 'create_oauth_application_user_state', method: 'POST', route: '/api/4.0/external_oauth_applications/user_state', access, success: 200, needsRole: true,
      request: async (p) => ({
        url: '/api/4.0/external_oauth_applications/user_state',
        payload: {
          user_id: access === 'self-own' ? (p.userId() ?? member.id) : other.id,
          oauth_application_id: application.id,
          access_token: randomSecret(),
          access_token_expires_at: '2031-01-01T00:00:00Z',
          refresh_token: randomSecret(),
        },
      }),
    }),
  ),
  // The OAuth broker's token side (ours): a user reads their own token and status; admins anyone's.
  {
    operationId: 'external_oauth_application_access_token', method: 'POST', route: '/api/4.0/external_oauth_applications/:client_id/access_token', access: 'self-own', success: 200, needsRole: true,
    request: async () => ({ url: brokerPath(tokenApp, 'access_token'), payload: {} }),
  },
  {
    operationId: 'external_oauth_application_access_token', method: 'POST', route: '/api/4.0/external_oauth_applications/:client_id/access_token', access: 'self-other', success: 200, needsRole: true,
    request: async () => ({ url: brokerPath(tokenApp, 'access_token'), payload: { user_id: other.id } }),
  },
  {
    operationId: 'all_external_oauth_application_user_states', method: 'GET', route: '/api/4.0/external_oauth_applications/:client_id/user_states', access: 'admin', success: 200,
    request: async () => ({ url: brokerPath(tokenApp, 'user_states?limit=10') }),
  },
  {
    operationId: 'external_oauth_application_user_state', method: 'GET', route: '/api/4.0/external_oauth_applications/:client_id/user_states/:user_id', access: 'self-own', success: 200,
    request: async (p) => ({ url: brokerPath(tokenApp, `user_states/${p.userId() ?? member.id}`) }),
  },
  {
    operationId: 'external_oauth_application_user_state', method: 'GET', route: '/api/4.0/external_oauth_applications/:client_id/user_states/:user_id', access: 'self-other', success: 200,
    request: async () => ({ url: brokerPath(tokenApp, `user_states/${other.id}`) }),
  },
  {
    operationId: 'delete_external_oauth_application_user_state', method: 'DELETE', route: '/api/4.0/external_oauth_applications/:client_id/user_states/:user_id', access: 'self-own', success: 204,
    request: async (p, forSuccess) => {
      const user = p.userId() ?? member.id;
      if (forSuccess) await pushState(user, disconnectApp);
      return { url: brokerPath(forSuccess ? disconnectApp : tokenApp, `user_states/${user}`) };
    },
  },
  {
    operationId: 'delete_external_oauth_application_user_state', method: 'DELETE', route: '/api/4.0/external_oauth_applications/:client_id/user_states/:user_id', access: 'self-other', success: 204,
    request: async (_p, forSuccess) => {
      if (forSuccess) await pushState(other.id, disconnectApp);
      return { url: brokerPath(forSuccess ? disconnectApp : tokenApp, `user_states/${other.id}`) };
    },
  },
  {
    // No provider settings on this application: the check answers 200 `inconclusive` without calling anyone.
    operationId: 'check_external_oauth_application', method: 'POST', route: '/api/4.0/external_oauth_applications/:client_id/check', access: 'admin', success: 200,
    request: async () => ({ url: brokerPath(tokenApp, 'check') }),
  },
];

/** A page for a browser: HTML that runs no script, cannot be framed or cached. */
function assertHtmlPage(response: { headers: Record<string, unknown>; body: string }) {
  assert.match(String(response.headers['content-type']), /^text\/html/);
  assert.match(String(response.headers['content-security-policy']), /default-src 'none'/);
  assert.equal(response.headers['cache-control'], 'no-store');
  assert.match(response.body, /^<!doctype html>/);
}

/** What the one table says this principal gets from this endpoint. */
function expected(endpoint: Endpoint, p: Principal): number {
  if (endpoint.access === 'public') return endpoint.success;
  if (!p.live) return 401;
  // A token from login/{user_id} never mints another: 403 where it acts as an admin (the route is no
  // secret to it), 404 otherwise like any admin route.
  if (endpoint.operationId === 'login_user' && p.sudo) return p.admin ? 403 : 404;
  if (p.admin) return endpoint.success;
  if (endpoint.needsRole && p.roleless) return 404;
  if (endpoint.access === 'user' || endpoint.access === 'self-own') return endpoint.success;
  return 404;
}

describe('authorization matrix', () => {
  let people: Principal[];
  before(async () => {
    t = await buildTestApp({ EOA_PUBLIC_URL: 'https://eoa.example' });
    member = await t.newUser();
    other = await freshUser();
    application = await freshApplication();
    connectable = await create('/api/4.0/external_oauth_applications', {
      name: `connectable ${randomBytes(6).toString('hex')}`, client_id: `connectable-${randomBytes(6).toString('hex')}`, client_secret: randomSecret(),
      dialect_name: 'snowflake', provider_url: 'https://acme-xy12345.snowflakecomputing.com',
    });
    people = await principals();
  });
  after(() => t.close());
  before(async () => {
    tokenApp = await freshApplication();
    disconnectApp = await freshApplication();
    // Every user a principal acts as holds a state here, so `self` reads succeed on the access rules alone.
    const users = new Set(['1', member.id, other.id, ...people.map((p) => p.userId()).filter((id): id is string => id !== null)]);
    for (const user of users) await pushState(user, tokenApp);
  });

  test('the table covers every operation of the service\'s OpenAPI document', () => {
    const document = t.app.swagger() as { paths: Record<string, Record<string, { operationId?: string }>> };
    const covered = new Set(ENDPOINTS.map((e) => `${e.method} ${e.route.replace(/:(\w+)/g, '{$1}')}`));
    const operations = Object.entries(document.paths).flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`));
    assert.ok(operations.length >= 20, `the document lists the operations (${operations.length})`);
    assert.deepEqual(operations.filter((op) => !covered.has(op)), []);
  });

  test('every endpoint × every principal answers as the table says, and denials change nothing', async () => {
    const failures: string[] = [];
    let cells = 0;
    for (const endpoint of ENDPOINTS) {
      for (const p of people) {
        const want = expected(endpoint, p);
        const { url, payload, form } = await endpoint.request(p, want === endpoint.success);
        const authorization = await p.header(Boolean(endpoint.consumesToken) && p.live);
        const headers: Record<string, string> = {
          ...(authorization === undefined ? {} : { authorization }),
          ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
        };
        const before = want >= 400 ? await storeDigest(t.app.store.db) : null;
        const response = await t.inject({ method: endpoint.method, url, headers, ...(payload === undefined ? {} : { payload: payload as string }) });
        cells += 1;
        const cell = `${endpoint.method} ${endpoint.route} [${endpoint.access}] as ${p.name}`;
        if (response.statusCode !== want) {
          failures.push(`${cell}: ${response.statusCode}, expected ${want}: ${response.body.slice(0, 200)}`);
          continue;
        }
        try {
          if (endpoint.html) assertHtmlPage(response);
          else assertResponse(endpoint.operationId, response);
        } catch (error) {
          failures.push(`${cell}: ${(error as Error).message.split('\n')[0]}`);
        }
        if (before !== null && (await storeDigest(t.app.store.db)) !== before) failures.push(`${cell}: answered ${want} but changed the store`);
      }
    }
    console.log(`# authorization matrix: ${ENDPOINTS.length} endpoints × ${people.length} principals = ${cells} cells`);
    assert.deepEqual(failures, []);
    assert.equal(cells, ENDPOINTS.length * people.length);
  });
});
