import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ADMIN, bearer, buildTestApp, json, loginToken, type TestApp } from '../helpers/app.ts';
import { assertResponse } from '../helpers/contract.ts';
import { tokenDigest } from '../../src/crypto/password.ts';
import { randomSecret, storeDigest } from '../reliability/support.ts';
import { API_ROUTES, describeRoute, pathOf, type ApiRoute } from '../helpers/routes.ts';

/**
 * The authorization matrix: every route × every kind of caller → the expected status. The routes and who
 * may call each are the one route table (test/helpers/routes.ts); a caller is one of seventeen principals.
 * Expected statuses follow from the row's access and the principal alone:
 *   public routes answer everyone; any other answers 401 to a caller without a live session;
 *   admin routes answer 404 to a non-admin (Looker hides what the caller may not use);
 *   `self` routes, and routes naming a user in the body (`ownUserInBody`), are tried on the caller's own
 *   user and on another: a non-admin succeeds only on their own; `member` routes answer 404 to a user
 *   with no role; a `login/{user_id}` token cannot call `login_user`.
 * Every denied request must leave the store exactly as it was, and every body fits the excerpt spec (or
 * our served document, for our own operations).
 */

/** Which user a cell acts on, for the routes that act on one: the caller's own, or another. */
type Target = 'own' | 'other' | null;

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

/** Builds the request of one cell; `forSuccess` when this cell is expected to change something. */
type RequestFor = (p: Principal, forSuccess: boolean, target: Target) => Promise<{ url: string; payload?: unknown; form?: boolean }>;

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

/** The user a cell acts on: the caller's own (a member when the caller is no one), or another. */
const userFor = (p: Principal, target: Target) => (target === 'other' ? other.id : (p.userId() ?? member.id));

/**
 * How to call each route of the table with something real behind it, by `METHOD route`; a route not
 * listed is called on its bare path. A cell expected to succeed and change something gets its own fresh
 * victim, so no cell depends on another.
 */
const REQUESTS: Record<string, RequestFor> = {
  'POST /api/4.0/login': async () => ({ url: '/api/4.0/login', form: true, payload: new URLSearchParams({ client_id: member.client_id, client_secret: member.client_secret }).toString() }),
  'GET /external_oauth/redirect': async () => ({ url: `/external_oauth/redirect?code=${randomBytes(8).toString('hex')}&state=${randomBytes(32).toString('base64url')}` }),
  'POST /api/4.0/login/:user_id': async () => ({ url: `/api/4.0/login/${member.id}` }),
  'GET /api/4.0/users': async () => ({ url: '/api/4.0/users?limit=5' }),
  'POST /api/4.0/users': async () => ({ url: '/api/4.0/users', payload: { first_name: 'Made' } }),
  'GET /api/4.0/users/:user_id': async (p, _s, target) => ({ url: `/api/4.0/users/${userFor(p, target)}` }),
  'PATCH /api/4.0/users/:user_id': async () => ({ url: `/api/4.0/users/${other.id}`, payload: { last_name: `L${randomBytes(3).toString('hex')}` } }),
  'DELETE /api/4.0/users/:user_id': async (_p, forSuccess) => ({ url: `/api/4.0/users/${forSuccess ? (await freshUser()).id : other.id}` }),
  'GET /api/4.0/users/:user_id/credentials_api3': async () => ({ url: `/api/4.0/users/${member.id}/credentials_api3` }),
  'POST /api/4.0/users/:user_id/credentials_api3': async () => ({ url: `/api/4.0/users/${other.id}/credentials_api3`, payload: {} }),
  'GET /api/4.0/users/:user_id/credentials_api3/:credentials_api3_id': async () => ({
    url: `/api/4.0/users/${member.id}/credentials_api3/${(await t.app.repos.credentials.listForUser(member.id))[0].id}`,
  }),
  'PATCH /api/4.0/users/:user_id/credentials_api3/:credentials_api3_id': async (_p, forSuccess) => {
    const c = forSuccess ? await freshCredentials() : { userId: member.id, id: (await t.app.repos.credentials.listForUser(member.id))[0].id };
    return { url: `/api/4.0/users/${c.userId}/credentials_api3/${c.id}`, payload: { purpose: 'matrix' } };
  },
  'DELETE /api/4.0/users/:user_id/credentials_api3/:credentials_api3_id': async (_p, forSuccess) => {
    const c = forSuccess ? await freshCredentials() : { userId: member.id, id: (await t.app.repos.credentials.listForUser(member.id))[0].id };
    return { url: `/api/4.0/users/${c.userId}/credentials_api3/${c.id}` };
  },
  'GET /api/4.0/users/:user_id/roles': async (p, _s, target) => ({ url: `/api/4.0/users/${userFor(p, target)}/roles` }),
  'PUT /api/4.0/users/:user_id/roles': async (_p, forSuccess) => ({ url: `/api/4.0/users/${forSuccess ? (await freshUser()).id : other.id}/roles`, payload: ['2'] }),
  'POST /api/4.0/external_oauth_applications': async () => ({
    url: '/api/4.0/external_oauth_applications',
    payload: { name: `made ${randomBytes(6).toString('hex')}`, client_id: `made-${randomBytes(6).toString('hex')}`, client_secret: randomSecret() },
  }),
  'PATCH /api/4.0/external_oauth_applications/:client_id': async () => ({ url: `/api/4.0/external_oauth_applications/${enc(application.client_id)}`, payload: { client_secret: randomSecret() } }),
  'DELETE /api/4.0/external_oauth_applications/:client_id': async (_p, forSuccess) => ({
    url: `/api/4.0/external_oauth_applications/${enc(forSuccess ? (await freshApplication()).client_id : application.client_id)}`,
  }),
  'POST /api/4.0/external_oauth_applications/:client_id/authorize': async () => ({ url: `/api/4.0/external_oauth_applications/${enc(connectable.client_id)}/authorize`, payload: { return_to: '/done' } }),
  'GET /api/4.0/audit_events': async () => ({ url: '/api/4.0/audit_events?limit=5' }),
  'POST /api/4.0/external_oauth_applications/user_state': async (p, _s, target) => ({
    url: '/api/4.0/external_oauth_applications/user_state',
    payload: {
      user_id: userFor(p, target),
      oauth_application_id: application.id,
      access_token: randomSecret(),
      access_token_expires_at: '2031-01-01T00:00:00Z',
      refresh_token: randomSecret(),
    },
  }),
  // The broker's token side (ours): a user reads their own token and status; admins anyone's.
  'POST /api/4.0/external_oauth_applications/:client_id/access_token': async (_p, _s, target) => ({
    url: brokerPath(tokenApp, 'access_token'),
    payload: target === 'other' ? { user_id: other.id } : {},
  }),
  'GET /api/4.0/external_oauth_applications/:client_id/user_states': async () => ({ url: brokerPath(tokenApp, 'user_states?limit=10') }),
  'GET /api/4.0/external_oauth_applications/:client_id/user_states/:user_id': async (p, _s, target) => ({ url: brokerPath(tokenApp, `user_states/${userFor(p, target)}`) }),
  'DELETE /api/4.0/external_oauth_applications/:client_id/user_states/:user_id': async (p, forSuccess, target) => {
    const user = userFor(p, target);
    if (forSuccess) await pushState(user, disconnectApp);
    return { url: brokerPath(forSuccess ? disconnectApp : tokenApp, `user_states/${user}`) };
  },
  // No provider settings on this application: the check answers 200 `inconclusive` without calling anyone.
  'POST /api/4.0/external_oauth_applications/:client_id/check': async () => ({ url: brokerPath(tokenApp, 'check') }),
};

/** A cell: one route of the table, on the caller's own user or another's where it acts on one. */
interface Cell {
  route: ApiRoute;
  target: Target;
  request: RequestFor;
}

const CELLS: Cell[] = API_ROUTES.flatMap((route) => {
  const request = REQUESTS[describeRoute(route)] ?? (async () => ({ url: pathOf(route) }));
  const targets: Target[] = route.access === 'self' || route.ownUserInBody ? ['own', 'other'] : [null];
  return targets.map((target) => ({ route, target, request }));
});

/** Operations with a documented answer to hold the body to (hidden probes and pages have none). */
const DOCUMENTED = new Set(API_ROUTES.filter((r) => !r.hidden).map((r) => r.operationId));

/** A page for a browser: HTML that runs no script, cannot be framed or cached. */
function assertHtmlPage(response: { headers: Record<string, unknown>; body: string }) {
  assert.match(String(response.headers['content-type']), /^text\/html/);
  assert.match(String(response.headers['content-security-policy']), /default-src 'none'/);
  assert.equal(response.headers['cache-control'], 'no-store');
  assert.match(response.body, /^<!doctype html>/);
}

/** What the table says this principal gets from this cell. */
function expected({ route, target }: Cell, p: Principal): number {
  if (route.access === 'public') return route.success;
  if (!p.live) return 401;
  // A token from login/{user_id} never mints another: 403 where it acts as an admin (the route is no
  // secret to it), 404 otherwise like any admin route.
  if (route.operationId === 'login_user' && p.sudo) return p.admin ? 403 : 404;
  if (p.admin) return route.success;
  if (route.access === 'admin') return 404;
  if (route.access === 'member' && p.roleless) return 404;
  if (target === 'other') return 404;
  return route.success;
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

  test('every route × every principal answers as the table says, and denials change nothing', async () => {
    const failures: string[] = [];
    let cells = 0;
    for (const cell of CELLS) {
      const { route } = cell;
      for (const p of people) {
        const want = expected(cell, p);
        const { url, payload, form } = await cell.request(p, want === route.success, cell.target);
        const authorization = await p.header(Boolean(route.consumesToken) && p.live);
        const headers: Record<string, string> = {
          ...(authorization === undefined ? {} : { authorization }),
          ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
        };
        const before = want >= 400 ? await storeDigest(t.app.store.db) : null;
        const response = await t.inject({ method: route.method, url, headers, ...(payload === undefined ? {} : { payload: payload as string }) });
        cells += 1;
        const name = `${describeRoute(route)} [${route.access}${cell.target ? `, ${cell.target} user` : ''}] as ${p.name}`;
        if (response.statusCode !== want) {
          failures.push(`${name}: ${response.statusCode}, expected ${want}: ${response.body.slice(0, 200)}`);
          continue;
        }
        try {
          if (route.operationId === 'external_oauth_redirect') assertHtmlPage(response);
          else if (DOCUMENTED.has(route.operationId)) assertResponse(route.operationId, response);
        } catch (error) {
          failures.push(`${name}: ${(error as Error).message.split('\n')[0]}`);
        }
        if (before !== null && (await storeDigest(t.app.store.db)) !== before) failures.push(`${name}: answered ${want} but changed the store`);
      }
    }
    console.log(`# authorization matrix: ${CELLS.length} cells of ${API_ROUTES.length} routes × ${people.length} principals = ${cells} requests`);
    assert.deepEqual(failures, []);
    assert.equal(cells, CELLS.length * people.length);
  });
});
