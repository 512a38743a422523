import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { ADMIN, bearer, buildTestApp, json, loginToken, testConfig, type TestApp } from '../helpers/app.ts';
import { assertResponse } from '../helpers/contract.ts';
import { tokenDigest } from '../../src/crypto/password.ts';
import { buildServer } from '../../src/server.ts';
import { API_ROUTES, describeRoute, paramsOf, pathOf, type PathParams } from '../helpers/routes.ts';

const form = (body: Record<string, string>, url = '/api/4.0/login') => ({
  method: 'POST' as const,
  url,
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  payload: new URLSearchParams(body).toString(),
});

async function createUser(t: TestApp, roleIds: string[]) {
  const auth = bearer(t.adminToken);
  const user = json(await t.inject({ method: 'POST', url: '/api/4.0/users', headers: auth, payload: { first_name: 'Someone' } }));
  await t.inject({ method: 'PUT', url: `/api/4.0/users/${user.id}/roles`, headers: auth, payload: roleIds });
  const creds = json(await t.inject({ method: 'POST', url: `/api/4.0/users/${user.id}/credentials_api3`, headers: auth }));
  return { id: user.id as string, credentialsId: creds.id as string, client_id: creds.client_id as string, client_secret: creds.client_secret as string };
}

describe('login', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp();
  });
  after(() => t.close());

  test('form credentials give a Bearer token with expires_in', async () => {
    const response = await t.inject(form(ADMIN));
    assert.equal(response.statusCode, 200);
    assertResponse('login', response);
    const token = json(response);
    assert.equal(token.token_type, 'Bearer');
    assert.equal(token.expires_in, 3600);
    assert.match(token.access_token, /^[A-Za-z0-9_-]{43}$/);
  });

  test('credentials in the query string are still accepted, as by Looker', async () => {
    const response = await t.inject({ method: 'POST', url: `/api/4.0/login?${new URLSearchParams(ADMIN)}` });
    assert.equal(response.statusCode, 200);
    assertResponse('login', response);
    const me = await t.inject({ method: 'GET', url: '/api/4.0/user', headers: bearer(json(response).access_token) });
    assert.equal(json(me).id, '1');
  });

  test('a JSON body is accepted too', async () => {
    const response = await t.inject({ method: 'POST', url: '/api/4.0/login', payload: ADMIN });
    assert.equal(response.statusCode, 200);
    assertResponse('login', response);
  });

  test('every login gives a new token', async () => {
    const a = json(await t.inject(form(ADMIN))).access_token;
    const b = json(await t.inject(form(ADMIN))).access_token;
    assert.notEqual(a, b);
  });

  test('wrong secret, unknown client_id, missing, empty or over-long fields all answer 404 Not found', async () => {
    const cases: Array<Record<string, string>> = [
      { ...ADMIN, client_secret: 'wrong' },
      { client_id: 'nobody', client_secret: 'x' },
      { client_id: ADMIN.client_id },
      { client_secret: ADMIN.client_secret },
      { client_id: '', client_secret: '' },
      {},
      { client_id: ADMIN.client_id, client_secret: ADMIN.client_secret + 'x'.repeat(2000) },
    ];
    for (const body of cases) {
      const response = await t.inject(form(body));
      assert.equal(response.statusCode, 404, JSON.stringify(body));
      assertResponse('login', response);
      assert.equal(json(response).message, 'Not found');
    }
    const query = await t.inject({ method: 'POST', url: `/api/4.0/login?client_id=${ADMIN.client_id}&client_secret=nope` });
    assert.equal(query.statusCode, 404);
    assertResponse('login', query);
  });

  test('the token is accepted as "Bearer X", "token X" and in any case', async () => {
    const token = json(await t.inject(form(ADMIN))).access_token;
    for (const authorization of [`Bearer ${token}`, `token ${token}`, `bearer ${token}`, `TOKEN ${token}`]) {
      const me = await t.inject({ method: 'GET', url: '/api/4.0/user', headers: { authorization } });
      assert.equal(me.statusCode, 200, authorization);
    }
  });

  test('tokens are stored only as their SHA-256 digest, with an expiry', async () => {
    const token = json(await t.inject(form(ADMIN))).access_token;
    const rows = await t.app.store.db.selectFrom('sessions').selectAll().execute();
    const row = rows.find((r) => r.token_hash === tokenDigest(token));
    assert.ok(row, 'a session row keyed by the digest');
    assert.ok(!JSON.stringify(rows).includes(token), 'the token itself is stored nowhere');
    const expiresAt = Date.parse(String(row.expires_at instanceof Date ? row.expires_at.toISOString() : row.expires_at));
    assert.ok(expiresAt > Date.now() + 3500_000 && expiresAt <= Date.now() + 3600_000);
  });

  test('EOA_TOKEN_TTL_S sets expires_in', async () => {
    const short = await buildTestApp({ EOA_TOKEN_TTL_S: '120' });
    try {
      const response = await short.inject(form(ADMIN));
      assert.equal(json(response).expires_in, 120);
    } finally {
      await short.close();
    }
  });
});

describe('login/{user_id}', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp();
  });
  after(() => t.close());

  test('an admin gets a token that acts as the user', async () => {
    const user = await createUser(t, ['2']);
    const response = await t.inject({ method: 'POST', url: `/api/4.0/login/${user.id}`, headers: bearer(t.adminToken) });
    assert.equal(response.statusCode, 200);
    assertResponse('login_user', response);
    const sudo = json(response).access_token;
    const me = await t.inject({ method: 'GET', url: '/api/4.0/user', headers: bearer(sudo) });
    assert.equal(json(me).id, user.id);
    // It has that user's rights, not the admin's.
    const users = await t.inject({ method: 'GET', url: '/api/4.0/users', headers: bearer(sudo) });
    assert.equal(users.statusCode, 404);
    // And cannot itself log in as someone else.
    const again = await t.inject({ method: 'POST', url: '/api/4.0/login/1', headers: bearer(sudo) });
    assert.equal(again.statusCode, 404);
    assertResponse('login_user', again);
  });

  test('unknown, disabled and malformed user ids answer 404', async () => {
    const disabled = await createUser(t, ['2']);
    await t.inject({ method: 'PATCH', url: `/api/4.0/users/${disabled.id}`, headers: bearer(t.adminToken), payload: { is_disabled: true } });
    for (const id of ['999999', disabled.id, 'abc', '%2F', '-1']) {
      const response = await t.inject({ method: 'POST', url: `/api/4.0/login/${id}`, headers: bearer(t.adminToken) });
      assert.equal(response.statusCode, 404, id);
      assertResponse('login_user', response);
    }
  });

  test("the token dies with the admin's own credentials", async () => {
    const admin2 = await createUser(t, ['1']);
    const target = await createUser(t, ['2']);
    const admin2Token = await loginToken(t.app, admin2.client_id, admin2.client_secret);
    const sudo = json(await t.inject({ method: 'POST', url: `/api/4.0/login/${target.id}`, headers: bearer(admin2Token) })).access_token;
    assert.equal((await t.inject({ method: 'GET', url: '/api/4.0/user', headers: bearer(sudo) })).statusCode, 200);

    const deleted = await t.inject({
      method: 'DELETE',
      url: `/api/4.0/users/${admin2.id}/credentials_api3/${admin2.credentialsId}`,
      headers: bearer(t.adminToken),
    });
    assert.equal(deleted.statusCode, 204);
    for (const token of [sudo, admin2Token]) {
      const me = await t.inject({ method: 'GET', url: '/api/4.0/user', headers: bearer(token) });
      assert.equal(me.statusCode, 401);
      assertResponse('me', me);
    }
    // The target's own credentials still work.
    assert.ok(await loginToken(t.app, target.client_id, target.client_secret));
  });

  test("the token dies when the admin is disabled", async () => {
    const admin2 = await createUser(t, ['1']);
    const target = await createUser(t, ['2']);
    const admin2Token = await loginToken(t.app, admin2.client_id, admin2.client_secret);
    const sudo = json(await t.inject({ method: 'POST', url: `/api/4.0/login/${target.id}`, headers: bearer(admin2Token) })).access_token;
    await t.inject({ method: 'PATCH', url: `/api/4.0/users/${admin2.id}`, headers: bearer(t.adminToken), payload: { is_disabled: true } });
    assert.equal((await t.inject({ method: 'GET', url: '/api/4.0/user', headers: bearer(sudo) })).statusCode, 401);
  });
});

/**
 * Issue 10, defect 1: a `login/{user_id}` token lives only while its holder could mint it again. Run with
 * the token cache on (the default, told of every change) and off: the check holds through both.
 */
for (const cacheMs of ['60000', '0']) {
  describe(`login/{user_id}: the holder's right, checked on every request (token cache ${cacheMs} ms)`, () => {
    let t: TestApp;
    before(async () => {
      t = await buildTestApp({ EOA_TOKEN_CACHE_MS: cacheMs });
    });
    after(() => t.close());

    /** Admin B (not user 1) logs in, then mints a token acting as a target with the given roles. */
    async function sudoByHolder(targetRoles: string[] = ['2']) {
      const holder = await createUser(t, ['1']);
      const target = await createUser(t, targetRoles);
      const holderToken = await loginToken(t.app, holder.client_id, holder.client_secret);
      const minted = await t.inject({ method: 'POST', url: `/api/4.0/login/${target.id}`, headers: bearer(holderToken) });
      assert.equal(minted.statusCode, 200);
      const sudo = json(minted).access_token as string;
      // Checked (and, with the cache on, cached) before the holder changes.
      assert.equal((await t.inject({ method: 'GET', url: '/api/4.0/user', headers: bearer(sudo) })).statusCode, 200);
      return { holder, target, holderToken, sudo };
    }

    const me = (token: string) => t.inject({ method: 'GET', url: '/api/4.0/user', headers: bearer(token) });

    test('a demoted holder: its token acting as an admin loses every power at once, and stays dead if re-promoted', async () => {
      const { holder, sudo } = await sudoByHolder(['1']);
      assert.equal((await t.inject({ method: 'GET', url: '/api/4.0/users', headers: bearer(sudo) })).statusCode, 200);
      const demote = await t.inject({ method: 'PUT', url: `/api/4.0/users/${holder.id}/roles`, headers: bearer(t.adminToken), payload: ['2'] });
      assert.equal(demote.statusCode, 200);
      for (const [method, url, payload] of [
        ['GET', '/api/4.0/users', undefined],
        ['PUT', `/api/4.0/users/${holder.id}/roles`, ['1']],
        ['POST', '/api/4.0/login/1', undefined],
        ['GET', '/api/4.0/user', undefined],
      ] as const) {
        const response = await t.inject({ method, url, headers: bearer(sudo), ...(payload ? { payload: [...payload] } : {}) });
        assert.equal(response.statusCode, 401, `${method} ${url}`);
        assert.equal(json(response).message, 'Requires authentication.');
      }
      const roles = json(await t.inject({ method: 'GET', url: `/api/4.0/users/${holder.id}/roles`, headers: bearer(t.adminToken) }));
      assert.deepEqual(roles.map((r: { id: string }) => r.id), ['2'], 'the token did not give the holder Admin back');
      // The holder's own token lives on as a User's; made Admin again, its old sudo token does not revive.
      await t.inject({ method: 'PUT', url: `/api/4.0/users/${holder.id}/roles`, headers: bearer(t.adminToken), payload: ['1'] });
      assert.equal((await me(sudo)).statusCode, 401);
    });

    // With the cache on, a change made behind the service's back (SQL typed by hand, no notification) is
    // seen within the cache bound (token-cache.ts); another instance's change is notified (multi-instance test).
    test('the check is in the one lookup itself: a holder losing Admin by any path (even SQL by hand) is refused', { skip: cacheMs !== '0' && 'token cache on' }, async () => {
      const { holder, sudo } = await sudoByHolder();
      // Not through the service (which also ends the sessions): only the role row goes, as a concurrent
      // demotion racing the mint would leave it.
      await t.app.store.db.deleteFrom('user_roles').where('user_id', '=', holder.id).execute();
      assert.equal((await me(sudo)).statusCode, 401);
    });

    test('a disabled holder, or its credentials deleted or disabled: 401', async () => {
      const admin = bearer(t.adminToken);
      const disabled = await sudoByHolder();
      await t.inject({ method: 'PATCH', url: `/api/4.0/users/${disabled.holder.id}`, headers: admin, payload: { is_disabled: true } });
      assert.equal((await me(disabled.sudo)).statusCode, 401);

      const deleted = await sudoByHolder();
      await t.inject({ method: 'DELETE', url: `/api/4.0/users/${deleted.holder.id}/credentials_api3/${deleted.holder.credentialsId}`, headers: admin });
      assert.equal((await me(deleted.sudo)).statusCode, 401);

      const off = await sudoByHolder();
      await t.inject({ method: 'PATCH', url: `/api/4.0/users/${off.holder.id}/credentials_api3/${off.holder.credentialsId}`, headers: admin, payload: { is_disabled: true } });
      assert.equal((await me(off.sudo)).statusCode, 401);
    });

    test('a token from login/{user_id} acting as an admin cannot mint another: 403, nothing minted', async () => {
      const { sudo, holder } = await sudoByHolder(['1']);
      const before = await t.app.store.db.selectFrom('sessions').select('token_hash').execute();
      for (const id of ['1', holder.id]) {
        const again = await t.inject({ method: 'POST', url: `/api/4.0/login/${id}`, headers: bearer(sudo) });
        assert.equal(again.statusCode, 403, id);
        assertResponse('login_user', again);
      }
      assert.equal((await t.app.store.db.selectFrom('sessions').select('token_hash').execute()).length, before.length);
      // And the User's `can` does not offer it.
      assert.equal(json(await t.inject({ method: 'GET', url: '/api/4.0/users/1', headers: bearer(sudo) })).can.sudo, false);
      assert.equal(json(await t.inject({ method: 'GET', url: '/api/4.0/users/1', headers: bearer(t.adminToken) })).can.sudo, false, 'not on oneself either');
      assert.equal(json(await t.inject({ method: 'GET', url: `/api/4.0/users/${holder.id}`, headers: bearer(t.adminToken) })).can.sudo, true);
    });

    test('an admin cannot log in as itself (a token indistinguishable from its own session): 403', async () => {
      const self = await t.inject({ method: 'POST', url: '/api/4.0/login/1', headers: bearer(t.adminToken) });
      assert.equal(self.statusCode, 403);
      assertResponse('login_user', self);
    });

    test("the token never outlives the holder's session that minted it", async () => {
      const holder = await createUser(t, ['1']);
      const target = await createUser(t, ['2']);
      const holderToken = await loginToken(t.app, holder.client_id, holder.client_secret);
      const endsAt = new Date(Date.now() + 100_000).toISOString();
      await t.app.store.db.updateTable('sessions').set({ expires_at: endsAt }).where('token_hash', '=', tokenDigest(holderToken)).execute();
      const minted = json(await t.inject({ method: 'POST', url: `/api/4.0/login/${target.id}`, headers: bearer(holderToken) }));
      assert.ok(minted.expires_in > 0 && minted.expires_in <= 100, `expires_in ${minted.expires_in}`);
      const row = await t.app.store.db.selectFrom('sessions').select('expires_at').where('token_hash', '=', tokenDigest(minted.access_token)).executeTakeFirstOrThrow();
      assert.ok(Date.parse(String(row.expires_at instanceof Date ? row.expires_at.toISOString() : row.expires_at)) <= Date.parse(endsAt));
    });
  });
}

describe('logout', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp();
  });
  after(() => t.close());

  for (const url of ['/api/4.0/logout', '/api/logout']) {
    test(`DELETE ${url} ends the token: 204 without body or Content-Type, then 401`, async () => {
      const token = json(await t.inject(form(ADMIN))).access_token;
      const other = json(await t.inject(form(ADMIN))).access_token;
      const logout = await t.inject({ method: 'DELETE', url, headers: bearer(token) });
      assert.equal(logout.statusCode, 204);
      assertResponse('logout', logout);
      for (const attempt of [
        { method: 'GET' as const, url: '/api/4.0/user', operationId: 'me' },
        { method: 'DELETE' as const, url, operationId: 'logout' },
      ]) {
        const response = await t.inject({ method: attempt.method, url: attempt.url, headers: { authorization: `token ${token}` } });
        assert.equal(response.statusCode, 401);
        assertResponse(attempt.operationId, response);
        assert.equal(json(response).message, 'Requires authentication.');
      }
      // Only that token ended.
      assert.equal((await t.inject({ method: 'GET', url: '/api/4.0/user', headers: bearer(other) })).statusCode, 200);
    });
  }

  test('a JSON Content-Type on the body-less DELETE is fine', async () => {
    const token = json(await t.inject(form(ADMIN))).access_token;
    const logout = await t.inject({ method: 'DELETE', url: '/api/4.0/logout', headers: { ...bearer(token), 'content-type': 'application/json' } });
    assert.equal(logout.statusCode, 204);
  });
});

describe('token lifetime and restarts', () => {
  test('an expired token answers 401', async () => {
    const t = await buildTestApp();
    try {
      const token = json(await t.inject(form(ADMIN))).access_token;
      await t.app.store.db
        .updateTable('sessions')
        .set({ expires_at: new Date(Date.now() - 1000).toISOString() })
        .where('token_hash', '=', tokenDigest(token))
        .execute();
      const me = await t.inject({ method: 'GET', url: '/api/4.0/user', headers: bearer(token) });
      assert.equal(me.statusCode, 401);
      assertResponse('me', me);
      assert.equal(json(me).message, 'Requires authentication.');
      // The admin's other token is untouched.
      assert.equal((await t.inject({ method: 'GET', url: '/api/4.0/user', headers: bearer(t.adminToken) })).statusCode, 200);
      // The periodic purge removes the expired row and only it.
      assert.equal(await t.app.services.sessions.purgeExpired(), 1);
      const left = await t.app.store.db.selectFrom('sessions').select('token_hash').execute();
      assert.deepEqual(left.map((r) => r.token_hash), [tokenDigest(t.adminToken)]);
    } finally {
      await t.close();
    }
  });

  test('tokens survive a restart, and a restart never creates a second admin', async () => {
    const config = await testConfig();
    const first = await buildTestApp({}, config);
    const token = first.adminToken;
    await first.close();

    // Same store, other bootstrap credentials: the store has users, so nothing is created.
    const second = await buildTestApp({}, config);
    try {
      assert.equal(await second.app.services.users.bootstrapAdmin({ clientId: 'another-admin', clientSecret: 'another-secret-0123456789' }), null);
      const me = await second.inject({ method: 'GET', url: '/api/4.0/user', headers: bearer(token) });
      assert.equal(me.statusCode, 200);
      assert.equal(json(me).id, '1');
      const users = json(await second.inject({ method: 'GET', url: '/api/4.0/users', headers: bearer(token) }));
      assert.deepEqual(
        users.map((u: { id: string }) => u.id),
        ['1'],
      );
      const other = await second.inject(form({ client_id: 'another-admin', client_secret: 'another-secret-0123456789' }));
      assert.equal(other.statusCode, 404);
    } finally {
      await second.close();
    }
  });

  test('without bootstrap credentials the first admin gets generated ones, given out once', async () => {
    const config = { ...(await testConfig()), bootstrap: null };
    const app = await buildServer(config, { logStream: new PassThrough() });
    try {
      const created = await app.services.users.bootstrapAdmin(null);
      assert.ok(created?.generatedSecret, 'a generated secret to print');
      assert.equal(created.userId, '1');
      assert.ok(await loginToken(app, created.clientId, created.generatedSecret));
      assert.equal(await app.services.users.bootstrapAdmin(null), null, 'nothing the second time');
      assert.equal(await app.repos.users.count(), 1);
    } finally {
      await app.close();
    }
  });
});

describe('who may call what (generated for every route)', () => {
  let t: TestApp;
  let member: Awaited<ReturnType<TestApp['newUser']>>;
  let roleless: { id: string; token: string };
  let victim: Awaited<ReturnType<typeof createUser>>;
  let memberApplication: string;
  let memberApplicationId: string;
  before(async () => {
    t = await buildTestApp();
    member = await t.newUser();
    victim = await createUser(t, ['2']);
    const nobody = await createUser(t, []);
    roleless = { id: nobody.id, token: await loginToken(t.app, nobody.client_id, nobody.client_secret) };
    // An application the member holds a token for, for the broker's `self` routes.
    memberApplication = `auth-${randomBytes(6).toString('hex')}`;
    const app = json(await t.inject({ method: 'POST', url: '/api/4.0/external_oauth_applications', headers: bearer(t.adminToken), payload: { name: memberApplication, client_id: memberApplication, client_secret: randomBytes(24).toString('base64url') } }));
    memberApplicationId = app.id;
  });
  after(() => t.close());

  /** The victim's user and credentials; an application that does not exist (past the auth checks, a 404). */
  const onVictim = (): PathParams => ({ user_id: victim.id, credentials_api3_id: victim.credentialsId, client_id: 'no-such-application' });
  const unknownToken = randomBytes(32).toString('base64url');
  const badHeaders: Array<[string, Record<string, string>]> = [
    ['no Authorization header', {}],
    ['an unknown token', { authorization: `Bearer ${unknownToken}` }],
    ['a malformed token', { authorization: 'Bearer not a token' }],
    ['another scheme', { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }],
    ['a bare token', { authorization: unknownToken }],
  ];

  async function storeMemberState() {
    const state = await t.inject({
      method: 'POST', url: '/api/4.0/external_oauth_applications/user_state', headers: bearer(member.token),
      payload: { user_id: member.id, oauth_application_id: memberApplicationId, access_token: randomBytes(24).toString('base64url'), access_token_expires_at: '2031-01-01T00:00:00Z' },
    });
    assert.equal(state.statusCode, 200);
  }

  for (const route of API_ROUTES.filter((r) => r.access !== 'public')) {
    for (const [label, headers] of badHeaders) {
      test(`${describeRoute(route)} with ${label} → 401`, async () => {
        const response = await t.inject({ method: route.method, url: pathOf(route, onVictim()), headers, payload: route.body as never });
        assert.equal(response.statusCode, 401);
        assertResponse(route.operationId, response);
        assert.equal(json(response).message, 'Requires authentication.');
        assert.match(json(response).documentation_url, /\/docs\/errors#401$/);
      });
    }

    if (route.access === 'admin' || route.access === 'self') {
      test(`${describeRoute(route)} by a non-admin on another user → 404, nothing done`, async () => {
        const response = await t.inject({ method: route.method, url: pathOf(route, onVictim()), headers: bearer(member.token), payload: route.body as never });
        assert.equal(response.statusCode, 404);
        assertResponse(route.operationId, response);
        assert.equal(json(response).message, 'Not found');
      });
    }
    if (route.access === 'member') {
      test(`${describeRoute(route)} by a user with no role → 404, nothing done`, async () => {
        const body = route.ownUserInBody ? { ...(route.body as object), user_id: roleless.id } : route.body;
        const response = await t.inject({ method: route.method, url: pathOf(route, { client_id: memberApplication }), headers: bearer(roleless.token), payload: body as never });
        assert.equal(response.statusCode, 404);
        assertResponse(route.operationId, response);
        assert.equal(json(response).message, 'Not found');
      });
    }
    if (route.access === 'self') {
      test(`${describeRoute(route)} by a non-admin on themself → ${route.success}`, async () => {
        // The member's state on the application, made for this case: reading it does not depend on an
        // earlier case, nor deleting it on a later one.
        if (paramsOf(route).includes('client_id')) await storeMemberState();
        const response = await t.inject({ method: route.method, url: pathOf(route, { user_id: member.id, client_id: memberApplication }), headers: bearer(member.token) });
        assert.equal(response.statusCode, route.success);
        assertResponse(route.operationId, response);
      });
    }
  }

  test('after all of that the victim, their credentials and roles are untouched', async () => {
    const user = json(await t.inject({ method: 'GET', url: `/api/4.0/users/${victim.id}`, headers: bearer(t.adminToken) }));
    assert.equal(user.first_name, 'Someone');
    assert.deepEqual(user.role_ids, ['2']);
    assert.deepEqual(
      user.credentials_api3.map((c: { id: string; purpose: string | null }) => [c.id, c.purpose]),
      [[victim.credentialsId, null]],
    );
    assert.ok(await loginToken(t.app, victim.client_id, victim.client_secret));
    const users = json(await t.inject({ method: 'GET', url: '/api/4.0/users', headers: bearer(t.adminToken) }));
    assert.equal(users.length, 4, 'no user was created');
    // The member's own token was never logged out by the 401 cases.
    assert.equal((await t.inject({ method: 'GET', url: '/api/4.0/user', headers: bearer(member.token) })).statusCode, 200);
  });
});
