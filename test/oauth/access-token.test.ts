import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTestApp, type TestApp } from '../helpers/app.ts';
import { assertResponse } from '../helpers/contract.ts';
import { startTestProvider, type TestProvider } from '../helpers/oidc-provider.ts';
import { accessTokenPath, auditProviderTokens, connectUser, createApplication, injectCall, newClient, PUBLIC_URL, trackGrants, userStatePath, waitFor, type Call } from '../helpers/broker.ts';

/**
 * Refresh on read against the real authorization server (oidc-provider: rotating refresh tokens, which it
 * revokes as a whole grant when a spent one comes back), in one service process on whichever engine the
 * run uses (SQLite by default, PostgreSQL with TEST_DATABASE_URL). Access tokens live 2 s at the provider
 * and are refreshed within 1 s of expiry, so a test that waits for the `expired` status has a token the
 * provider itself no longer accepts.
 */
describe('access_token: refresh on read, single flight, needs_reauth, provider failures', () => {
  let op: TestProvider;
  let t: TestApp;
  let call: Call;
  let grants: Map<string, string>;
  const client = newClient();
  let member: Awaited<ReturnType<TestApp['newUser']>>;

  before(async () => {
    op = await startTestProvider({ clients: [client], accessTokenTtl: 2 });
    auditProviderTokens(op);
    grants = trackGrants(op);
    t = await buildTestApp({ EOA_PUBLIC_URL: PUBLIC_URL, EOA_REFRESH_MARGIN_S: '1', EOA_PROVIDER_TIMEOUT_MS: '1000', EOA_PROVIDER_BACKOFF_S: '1' });
    call = injectCall(t);
    member = await t.newUser();
    await createApplication(call, t.adminToken, op, client);
    await connectUser(call, op, client.client_id, member.token, `account-${member.id}`);
  });
  after(async () => {
    await t?.close();
    await op?.stop();
  });

  const status = async () => (await call('GET', userStatePath(client.client_id, member.id), member.token)).json();
  const untilExpired = () => waitFor(async () => (await status()).status === 'expired', 10_000, 'the access token to expire');
  /** A read, its answer held to the served OpenAPI document whatever its status. */
  const read = async (token = member.token, body: object = {}) => {
    const answer = await call('POST', accessTokenPath(client.client_id), token, body);
    assertResponse('external_oauth_application_access_token', { statusCode: answer.status, body: answer.body, headers: answer.headers });
    return answer;
  };
  const storedRow = async () =>
    t.app.store.db.selectFrom('oauth_application_user_states').select(['access_token_sealed', 'access_token_expires_at', 'refresh_token_sealed', 'version', 'status']).where('user_id', '=', member.id).executeTakeFirstOrThrow();

  test('a fresh token is handed out as stored, with Cache-Control: no-store, without asking the provider', async () => {
    const before = op.count('grant.success');
    const first = await read();
    assert.equal(first.status, 200, first.body);
    assert.equal(first.headers['cache-control'], 'no-store');
    const token = first.json();
    assert.deepEqual(Object.keys(token).sort(), ['access_token', 'expires_at', 'scope', 'token_type']);
    assert.equal(token.token_type.toLowerCase(), 'bearer');
    assert.ok(Date.parse(token.expires_at) > Date.now());
    const second = await read();
    assert.equal(second.json().access_token, token.access_token);
    assert.equal(op.count('grant.success'), before, 'no refresh for a fresh token');
  });

  test('200 concurrent reads of an expired token: one refresh at the provider, no revoked grant, one new token for all', async () => {
    const old = (await read()).json().access_token;
    await untilExpired();
    const before = { success: op.count('grant.success'), consumed: op.count('refresh_token.consumed'), revoked: op.count('grant.revoked') };
    const row = await storedRow();

    const answers = await Promise.all(Array.from({ length: 200 }, () => read()));
    assert.deepEqual([...new Set(answers.map((a) => a.status))], [200], answers.find((a) => a.status !== 200)?.body);
    const tokens = new Set(answers.map((a) => a.json().access_token));
    assert.equal(tokens.size, 1, 'every caller got the same token');
    assert.notEqual([...tokens][0], old, 'a new one');
    assert.equal(op.count('grant.success') - before.success, 1, 'exactly one refresh reached the provider');
    assert.equal(op.count('refresh_token.consumed') - before.consumed, 1);
    assert.equal(op.count('grant.revoked'), before.revoked, 'no grant was revoked');

    const after = await storedRow();
    assert.notEqual(after.refresh_token_sealed, row.refresh_token_sealed, 'the rotated refresh token replaced the old one');
    assert.equal(Number(after.version), Number(row.version) + 1);
    const askedAt = Date.now();
    const state = await status();
    // The new token lives two seconds: on a loaded machine the 200 reads may outlast it, so the status is
    // held to the new expiry, which must be later than the one the refresh replaced.
    const expiresAt = Date.parse(state.access_token_expires_at);
    assert.ok(expiresAt > new Date(row.access_token_expires_at).getTime(), 'the refresh moved the expiry');
    if (expiresAt > Date.now()) assert.equal(state.status, 'active');
    else if (expiresAt <= askedAt) assert.equal(state.status, 'expired');
    assert.equal(state.last_error, null);
    assert.ok(Date.parse(state.last_refreshed_at) > Date.now() - 60_000);
    // The rotated token works: the next expiry refreshes again.
    await untilExpired();
    assert.equal((await read()).status, 200);
    assert.equal(op.count('grant.revoked'), before.revoked);
  });

  test('only an admin names another user; anyone else gets 404; the admin gets the member\'s token', async () => {
    const other = await t.newUser();
    assert.equal((await read(other.token, { user_id: member.id })).status, 404);
    assert.equal((await read(other.token)).status, 404, 'no state of their own');
    const mine = (await read()).json().access_token;
    const asAdmin = await read(t.adminToken, { user_id: member.id });
    assert.equal(asAdmin.status, 200);
    assert.equal(asAdmin.json().access_token, mine);
    assert.equal((await call('POST', accessTokenPath('no-such-app'), member.token, {})).status, 404);
  });

  test('provider down: 502 with Retry-After and nothing changed; back: the next read after Retry-After refreshes', async () => {
    await untilExpired();
    const row = await storedRow();
    await op.stop();
    try {
      const failed = await read();
      assert.equal(failed.status, 502, failed.body);
      assert.equal(failed.headers['retry-after'], '1', 'the back-off is EOA_PROVIDER_BACKOFF_S');
      assert.deepEqual(Object.keys(failed.json()).sort(), ['documentation_url', 'message']);
      // Within the back-off the provider is not asked again: the same answer, the store as it was.
      assert.equal((await read()).status, 502);
      const unchanged = await storedRow();
      assert.equal(unchanged.access_token_sealed, row.access_token_sealed);
      assert.equal(unchanged.refresh_token_sealed, row.refresh_token_sealed);
      assert.equal(unchanged.version, row.version);
      assert.equal((await status()).last_error, 'unreachable');
    } finally {
      await op.start();
    }
    const retryAfter = Number((await read()).headers['retry-after'] ?? 0);
    await new Promise((resolve) => setTimeout(resolve, retryAfter * 1000 + 100));
    const back = await read();
    assert.equal(back.status, 200, back.body);
    assert.equal((await status()).last_error, null);
  });

  test('a provider that hangs: 504 with Retry-After, tokens untouched', async () => {
    await untilExpired();
    const row = await storedRow();
    op.hang(true);
    try {
      const failed = await read();
      assert.equal(failed.status, 504, failed.body);
      assert.ok(Number(failed.headers['retry-after']) >= 1);
    } finally {
      op.hang(false);
    }
    assert.equal((await storedRow()).refresh_token_sealed, row.refresh_token_sealed);
    assert.equal((await status()).last_error, 'timeout');
  });

  test('the grant revoked at the provider: needs_reauth (409) on the next read, no further refresh, a reconnect makes it active', async () => {
    // Past any back-off left by the previous test.
    await waitFor(async () => ![502, 504].includes((await read()).status), 10_000, 'the back-off to end');
    await untilExpired();
    const grant = await op.provider.Grant.find(grants.get(`account-${member.id}`)!);
    await grant!.destroy();

    const refused = await read();
    assert.equal(refused.status, 409, refused.body);
    assert.match(refused.json().message, /connect to the application again/);
    const state = await status();
    assert.equal(state.status, 'needs_reauth');
    assert.equal(state.last_error, 'invalid_grant');

    const before = op.count('grant.error') + op.count('grant.success');
    assert.equal((await read()).status, 409);
    assert.equal(op.count('grant.error') + op.count('grant.success'), before, 'no further refresh is attempted');

    await connectUser(call, op, client.client_id, member.token, `account-${member.id}`);
    assert.equal((await status()).status, 'active');
    assert.equal((await read()).status, 200);
  });
});
