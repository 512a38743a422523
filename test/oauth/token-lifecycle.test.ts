import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { buildTestApp, type TestApp } from '../helpers/app.ts';
import { startTestProvider, type TestProvider } from '../helpers/oidc-provider.ts';
import { accessTokenPath, auditProviderTokens, connectUser, createApplication, injectCall, newClient, PUBLIC_URL, userStatePath, type Call } from '../helpers/broker.ts';
import { assertResponse } from '../helpers/contract.ts';

/**
 * The status of user states, disconnecting a user and deleting an application, against the real
 * authorization server: status never shows a token, a disconnect or a deleted application revokes the
 * grant at the provider (RFC 7009), and the credential check tells a good secret from a bad one and from a
 * provider that is down.
 */
describe('user states: status, disconnect, application delete; the credential check', () => {
  let op: TestProvider;
  let t: TestApp;
  let call: Call;
  const client = newClient();
  const second = newClient();

  before(async () => {
    op = await startTestProvider({ clients: [client, second] });
    auditProviderTokens(op);
    t = await buildTestApp({ EOA_PUBLIC_URL: PUBLIC_URL, EOA_PROVIDER_TIMEOUT_MS: '1000' });
    call = injectCall(t);
    await createApplication(call, t.adminToken, op, client);
    await createApplication(call, t.adminToken, op, second);
  });
  after(async () => {
    await t?.close();
    await op?.stop();
  });

  const statesPath = (clientId: string, query = '') => `/api/4.0/external_oauth_applications/${encodeURIComponent(clientId)}/user_states${query}`;

  test('statuses list every connected user in user id order, paged, and name no token', async () => {
    const users = [await t.newUser(), await t.newUser(), await t.newUser()];
    for (const user of users) await connectUser(call, op, client.client_id, user.token, `list-${user.id}`);
    const all = await call('GET', statesPath(client.client_id), t.adminToken);
    assert.equal(all.status, 200);
    assertResponse('all_external_oauth_application_user_states', { statusCode: all.status, body: all.body, headers: all.headers });
    const listed = all.json() as Array<Record<string, unknown>>;
    assert.deepEqual(listed.map((s) => s.user_id), users.map((u) => u.id));
    for (const state of listed) {
      assert.equal(state.status, 'active');
      assert.equal(state.has_refresh_token, true);
      assert.equal(state.last_error, null);
      assert.deepEqual(Object.keys(state).sort(), [
        'access_token_expires_at', 'has_refresh_token', 'last_error', 'last_refreshed_at', 'oauth_application_id', 'refresh_token_expires_at', 'status', 'updated_at', 'user_id',
      ]);
    }
    const page = (await call('GET', statesPath(client.client_id, '?limit=1&offset=1'), t.adminToken)).json();
    assert.deepEqual(page.map((s: { user_id: string }) => s.user_id), [users[1].id]);
    // A non-admin may not list, even their own application's states.
    assert.equal((await call('GET', statesPath(client.client_id), users[0].token)).status, 404);
    assert.equal((await call('GET', statesPath('no-such-app'), t.adminToken)).status, 404);
  });

  test('a user reads their own status; another user\'s is a 404 to them, visible to an admin', async () => {
    const [alice, bob] = [await t.newUser(), await t.newUser()];
    await connectUser(call, op, client.client_id, alice.token, `status-${alice.id}`);
    const own = await call('GET', userStatePath(client.client_id, alice.id), alice.token);
    assert.equal(own.status, 200);
    assertResponse('external_oauth_application_user_state', { statusCode: own.status, body: own.body, headers: own.headers });
    assert.equal(own.json().user_id, alice.id);
    assert.equal((await call('GET', userStatePath(client.client_id, alice.id), bob.token)).status, 404);
    assert.equal((await call('GET', userStatePath(client.client_id, bob.id), bob.token)).status, 404, 'bob has no state');
    assert.equal((await call('GET', userStatePath(client.client_id, alice.id), t.adminToken)).status, 200);
  });

  test('no refresh token: the token serves until it expires, then needs_reauth (no_refresh_token) without asking the provider', async () => {
    const user = await t.newUser();
    const app = (await call('GET', `/api/4.0/external_oauth_applications?client_id=${encodeURIComponent(client.client_id)}`, t.adminToken)).json()[0];
    const push = (expiresAt: string) =>
      call('POST', '/api/4.0/external_oauth_applications/user_state', user.token, {
        user_id: user.id, oauth_application_id: app.id, access_token: randomBytes(24).toString('base64url'), access_token_expires_at: expiresAt,
      });
    const grants = op.count('grant.success') + op.count('grant.error');
    // Within the refresh margin (60 s) but not expired: handed out as it is.
    assert.equal((await push(new Date(Date.now() + 30_000).toISOString())).status, 200);
    assert.equal((await call('POST', accessTokenPath(client.client_id), user.token, {})).status, 200);
    assert.equal((await push(new Date(Date.now() - 1000).toISOString())).status, 200);
    const refused = await call('POST', accessTokenPath(client.client_id), user.token, {});
    assert.equal(refused.status, 409, refused.body);
    assert.match(refused.json().message, /no refresh token/);
    const state = (await call('GET', userStatePath(client.client_id, user.id), user.token)).json();
    assert.deepEqual([state.status, state.last_error, state.has_refresh_token], ['needs_reauth', 'no_refresh_token', false]);
    assert.equal(op.count('grant.success') + op.count('grant.error'), grants, 'the provider was not asked');
  });

  test('a disconnect deletes the state and revokes the grant at the provider; a second one is a 404', async () => {
    const user = await t.newUser();
    await connectUser(call, op, client.client_id, user.token, `disconnect-${user.id}`);
    assert.equal((await call('POST', accessTokenPath(client.client_id), user.token, {})).status, 200);
    const revoked = op.count('grant.revoked');
    const other = await t.newUser();
    assert.equal((await call('DELETE', userStatePath(client.client_id, user.id), other.token)).status, 404, 'not another user\'s');

    const deleted = await call('DELETE', userStatePath(client.client_id, user.id), user.token);
    assert.equal(deleted.status, 204);
    assert.equal(deleted.body, '');
    assert.equal(deleted.headers['content-type'], undefined);
    assert.equal(op.count('grant.revoked'), revoked + 1, 'the grant was revoked at the provider');
    assert.equal((await call('GET', userStatePath(client.client_id, user.id), user.token)).status, 404);
    assert.equal((await call('POST', accessTokenPath(client.client_id), user.token, {})).status, 404);
    assert.equal((await call('DELETE', userStatePath(client.client_id, user.id), user.token)).status, 404);
  });

  test('a disconnect with the provider down still deletes here (revocation is best effort)', async () => {
    const user = await t.newUser();
    await connectUser(call, op, client.client_id, user.token, `down-${user.id}`);
    await op.stop();
    try {
      assert.equal((await call('DELETE', userStatePath(client.client_id, user.id), t.adminToken)).status, 204);
    } finally {
      await op.start();
    }
    assert.equal((await call('GET', userStatePath(client.client_id, user.id), t.adminToken)).status, 404);
  });

  test('the credential check: ok with the right secret, rejected with a wrong one, unreachable with the provider stopped', async () => {
    const checkPath = (clientId: string) => `/api/4.0/external_oauth_applications/${encodeURIComponent(clientId)}/check`;
    const ok = await call('POST', checkPath(client.client_id), t.adminToken);
    assert.equal(ok.status, 200, ok.body);
    assertResponse('check_external_oauth_application', { statusCode: ok.status, body: ok.body, headers: ok.headers });
    assert.equal(ok.json().client_authentication, 'ok');

    const wrong = newClient();
    await createApplication(call, t.adminToken, op, wrong);
    const unknownClient = await call('POST', checkPath(wrong.client_id), t.adminToken);
    assert.equal(unknownClient.json().client_authentication, 'rejected', 'a client id the provider does not know');
    const patched = await call('PATCH', `/api/4.0/external_oauth_applications/${encodeURIComponent(second.client_id)}`, t.adminToken, { client_secret: wrong.client_secret });
    assert.equal(patched.status, 200);
    const rejected = (await call('POST', checkPath(second.client_id), t.adminToken)).json();
    assert.equal(rejected.client_authentication, 'rejected', 'a wrong secret');
    assert.match(rejected.detail, /previous secret.*still accepted/, 'the previous secret, still held, is the one the provider knows');

    await op.stop();
    try {
      const down = (await call('POST', checkPath(client.client_id), t.adminToken)).json();
      assert.equal(down.client_authentication, 'unreachable');
    } finally {
      await op.start();
    }
    assert.equal((await call('POST', checkPath(client.client_id), (await t.newUser()).token)).status, 404, 'admins only');
    assert.equal((await call('POST', checkPath('no-such-app'), t.adminToken)).status, 404);
  });

  test('deleting an application revokes every user\'s grant at the provider', async () => {
    // Back to the secret the provider knows (the check test rotated it away).
    assert.equal((await call('PATCH', `/api/4.0/external_oauth_applications/${encodeURIComponent(second.client_id)}`, t.adminToken, { client_secret: second.client_secret })).status, 200);
    const users = [await t.newUser(), await t.newUser()];
    for (const user of users) await connectUser(call, op, second.client_id, user.token, `delete-${user.id}`);
    const revoked = op.count('grant.revoked');
    assert.equal((await call('DELETE', `/api/4.0/external_oauth_applications/${encodeURIComponent(second.client_id)}`, t.adminToken)).status, 204);
    assert.equal(op.count('grant.revoked'), revoked + 2);
    assert.equal((await call('GET', statesPath(second.client_id), t.adminToken)).status, 404);
  });
});
