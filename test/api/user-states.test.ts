import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { bearer, buildTestApp, json, type TestApp } from '../helpers/app.ts';
import { assertResponse } from '../helpers/contract.ts';

const URL = '/api/4.0/external_oauth_applications/user_state';
const OP = 'create_oauth_application_user_state';

let t: TestApp;
let admin: Record<string, string>;
let appId: string;
let otherAppId: string;
let user: Awaited<ReturnType<TestApp['newUser']>>;
let otherUser: Awaited<ReturnType<TestApp['newUser']>>;

function state(overrides: Record<string, unknown> = {}) {
  return {
    user_id: user.id,
    oauth_application_id: appId,
    access_token: 'ya29.access-token-value',
    access_token_expires_at: '2030-01-31T12:00:00Z',
    refresh_token: '1//refresh-token-value',
    refresh_token_expires_at: '2031-01-31T12:00:00+02:00',
    ...overrides,
  };
}

async function post(body: unknown, headers = admin) {
  return t.inject({ method: 'POST', url: URL, headers, payload: body as Record<string, unknown> });
}

function problemsOf(response: { body: string }) {
  return (json(response as never).errors as Array<{ field: string; code: string }>).map((e) => `${e.field}:${e.code}`).sort();
}

before(async () => {
  t = await buildTestApp();
  admin = bearer(t.adminToken);
  const createApp = async (n: number) =>
    json(
      await t.inject({
        method: 'POST',
        url: '/api/4.0/external_oauth_applications',
        headers: admin,
        payload: { name: `user-state app ${n}`, client_id: `us-client-${n}`, client_secret: `us-secret-${n}` },
      }),
    ).id as string;
  appId = await createApp(1);
  otherAppId = await createApp(2);
  user = await t.newUser();
  otherUser = await t.newUser();
});
after(() => t.close());

describe('create_oauth_application_user_state', () => {
  test('an admin stores tokens for any user: 200 {user_id, oauth_application_id}', async () => {
    const response = await post(state());
    assert.equal(response.statusCode, 200);
    assertResponse(OP, response);
    assert.deepEqual(json(response), { user_id: user.id, oauth_application_id: appId });
    assert.doesNotMatch(response.body, /token-value/);

    const tokens = await t.app.services.userStates.openTokens(user.id, appId);
    assert.deepEqual(tokens, {
      access_token: 'ya29.access-token-value',
      access_token_expires_at: '2030-01-31T12:00:00.000Z',
      refresh_token: '1//refresh-token-value',
      // Stored in UTC whatever offset was sent.
      refresh_token_expires_at: '2031-01-31T10:00:00.000Z',
    });
  });

  test('a second call for the same user and application replaces the tokens', async () => {
    assert.equal((await post(state({ access_token: 'first-access', refresh_token: 'first-refresh' }))).statusCode, 200);
    const response = await post(state({ access_token: 'second-access', refresh_token: null, refresh_token_expires_at: null }));
    assert.equal(response.statusCode, 200);
    assertResponse(OP, response);
    assert.deepEqual(await t.app.services.userStates.openTokens(user.id, appId), {
      access_token: 'second-access',
      access_token_expires_at: '2030-01-31T12:00:00.000Z',
      refresh_token: null,
      refresh_token_expires_at: null,
    });
    const rows = await t.app.repos.db
      .selectFrom('oauth_application_user_states')
      .select('user_id')
      .where('user_id', '=', user.id)
      .where('oauth_application_id', '=', appId)
      .execute();
    assert.equal(rows.length, 1);
  });

  test('refresh token fields are optional', async () => {
    const { refresh_token: _r, refresh_token_expires_at: _e, ...minimal } = state({ oauth_application_id: otherAppId });
    const response = await post(minimal);
    assert.equal(response.statusCode, 200);
    assert.equal((await t.app.services.userStates.openTokens(user.id, otherAppId))!.refresh_token, null);
  });

  test('a user sets their own state; another user\'s answers 404 and changes nothing', async () => {
    const own = await post(state({ user_id: otherUser.id, access_token: 'own-token' }), bearer(otherUser.token));
    assert.equal(own.statusCode, 200);
    assertResponse(OP, own);
    assert.deepEqual(json(own), { user_id: otherUser.id, oauth_application_id: appId });

    const before = await t.app.services.userStates.openTokens(user.id, appId);
    for (const target of [user.id, '1']) {
      const response = await post(state({ user_id: target, access_token: 'stolen' }), bearer(otherUser.token));
      assert.equal(response.statusCode, 404);
      assertResponse(OP, response);
      assert.equal(json(response).message, 'Not found');
    }
    assert.deepEqual(await t.app.services.userStates.openTokens(user.id, appId), before);
  });

  test('a user with no role cannot store its own state: 404, nothing stored (only a role grants it)', async () => {
    // Issue 10, defect 11: a role-less user answered 200 here.
    const roleless = await t.newUser();
    const demoted = await t.inject({ method: 'PUT', url: `/api/4.0/users/${roleless.id}/roles`, headers: admin, payload: [] });
    assert.equal(demoted.statusCode, 200);
    const response = await post(state({ user_id: roleless.id }), bearer(roleless.token));
    assert.equal(response.statusCode, 404);
    assertResponse(OP, response);
    assert.equal(await t.app.services.userStates.openTokens(roleless.id, appId), null);
    // It still reads itself: a role-less user is a user, not an intruder.
    assert.equal((await t.inject({ method: 'GET', url: '/api/4.0/user', headers: bearer(roleless.token) })).statusCode, 200);
    // Given the User role back, the same token stores its state.
    await t.inject({ method: 'PUT', url: `/api/4.0/users/${roleless.id}/roles`, headers: admin, payload: ['2'] });
    assert.equal((await post(state({ user_id: roleless.id }), bearer(roleless.token))).statusCode, 200);
  });

  test('another spelling of an id in the body names nothing: 404, for the user itself too', async () => {
    const fullWidth = (id: string) => id.replace(/[0-9]/g, (d) => String.fromCharCode(0xff10 + Number(d)));
    const spellings = (id: string) => [`0${id}`, `+${id}`, `${id}.0`, ` ${id}`, `${id} `, `${id}e0`, fullWidth(id)];
    for (const userId of spellings(otherUser.id)) {
      for (const headers of [admin, bearer(otherUser.token)]) {
        const response = await post(state({ user_id: userId }), headers);
        assert.equal(response.statusCode, 404, JSON.stringify(userId));
      }
    }
    for (const applicationId of spellings(appId)) {
      assert.equal((await post(state({ oauth_application_id: applicationId }))).statusCode, 404, JSON.stringify(applicationId));
    }
  });

  test('unknown user or application: 404', async () => {
    for (const body of [state({ user_id: '999999' }), state({ oauth_application_id: '999999' }), state({ user_id: 'abc' }), state({ oauth_application_id: 'us-client-1' })]) {
      const response = await post(body);
      assert.equal(response.statusCode, 404, JSON.stringify(body));
      assertResponse(OP, response);
    }
  });

  test('missing fields and bad dates: one 422 with every problem', async () => {
    const missing = await post({});
    assert.equal(missing.statusCode, 422);
    assertResponse(OP, missing);
    assert.deepEqual(problemsOf(missing), [
      'access_token:missing_field',
      'access_token_expires_at:missing_field',
      'oauth_application_id:missing_field',
      'user_id:missing_field',
    ]);

    for (const bad of ['tomorrow', '2030-01-31', '2030-02-30T00:00:00Z', '2030-01-31T12:00:00', '2030-01-31T25:00:00Z', '2030-12-31T23:59:60Z', '']) {
      const response = await post(state({ access_token_expires_at: bad, refresh_token_expires_at: bad }));
      assert.equal(response.statusCode, 422, bad);
      assertResponse(OP, response);
      assert.deepEqual(problemsOf(response), ['access_token_expires_at:invalid', 'refresh_token_expires_at:invalid'], bad);
    }

    const mixed = await post({ user_id: 5, oauth_application_id: appId, access_token: '', access_token_expires_at: 'soon' });
    assert.equal(mixed.statusCode, 422);
    assert.deepEqual(problemsOf(mixed), ['access_token:invalid', 'access_token_expires_at:invalid', 'user_id:invalid']);
  });

  test("a non-admin's invalid body is a 422 whoever it names: validation comes before the permission check", async () => {
    const response = await post(state({ user_id: user.id, access_token_expires_at: 'never' }), bearer(otherUser.token));
    assert.equal(response.statusCode, 422);
  });

  test('400 for a body that is not a JSON object; 401 without a token', async () => {
    const notObject = await t.inject({ method: 'POST', url: URL, headers: { ...admin, 'content-type': 'application/json' }, payload: '[]' });
    assert.equal(notObject.statusCode, 400);
    assertResponse(OP, notObject);
    const anonymous = await t.inject({ method: 'POST', url: URL, payload: state() });
    assert.equal(anonymous.statusCode, 401);
    assertResponse(OP, anonymous);
  });

  test('tokens are sealed bound to their row: copied to another row they do not open', async () => {
    await post(state({ user_id: otherUser.id, access_token: 'bound-token' }));
    const sealed = await t.app.repos.tokenStates.find({ user_id: otherUser.id, oauth_application_id: appId });
    await post(state({ access_token: 'victim-token' }));
    await t.app.repos.db
      .updateTable('oauth_application_user_states')
      .set({ access_token_sealed: sealed!.access_token_sealed })
      .where('user_id', '=', user.id)
      .where('oauth_application_id', '=', appId)
      .execute();
    await assert.rejects(t.app.services.userStates.openTokens(user.id, appId), /does not authenticate/);
  });

  test('no token reached a log line', () => {
    assert.doesNotMatch(t.logs.join(''), /token-value|own-token|bound-token|victim-token|first-access|second-access/);
  });
});
