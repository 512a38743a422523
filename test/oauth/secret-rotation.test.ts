import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { buildTestApp, type TestApp } from '../helpers/app.ts';
import { assertResponse } from '../helpers/contract.ts';
import { startTestProvider, type TestProvider } from '../helpers/oidc-provider.ts';
import { accessTokenPath, auditProviderTokens, connectUser, createApplication, injectCall, newClient, PUBLIC_URL, userStatePath, waitFor, type Call } from '../helpers/broker.ts';

/**
 * Zero-downtime client-secret rotation against the real authorization server: after a PATCH of the
 * secret, a provider that still knows only the old one keeps working until EOA_SECRET_OVERLAP_S (8 s
 * here) is over, then the old secret is no longer tried.
 */
describe('client secret rotation with an overlap', () => {
  const OVERLAP_S = 8;
  let op: TestProvider;
  let t: TestApp;
  let call: Call;
  const client = newClient();
  const newSecret = randomBytes(24).toString('base64url');
  let user: Awaited<ReturnType<TestApp['newUser']>>;

  before(async () => {
    op = await startTestProvider({ clients: [client], accessTokenTtl: 2 });
    auditProviderTokens(op);
    t = await buildTestApp({ EOA_PUBLIC_URL: PUBLIC_URL, EOA_REFRESH_MARGIN_S: '1', EOA_SECRET_OVERLAP_S: String(OVERLAP_S) });
    call = injectCall(t);
    user = await t.newUser();
    await createApplication(call, t.adminToken, op, client);
    await connectUser(call, op, client.client_id, user.token, `rotation-${user.id}`);
  });
  after(async () => {
    await t?.close();
    await op?.stop();
  });

  const appPath = `/api/4.0/external_oauth_applications/${encodeURIComponent(client.client_id)}`;
  const untilExpired = () => waitFor(async () => (await call('GET', userStatePath(client.client_id, user.id), user.token)).json().status === 'expired', 10_000, 'the access token to expire');
  const read = () => call('POST', accessTokenPath(client.client_id), user.token, {});
  const rotateAtProvider = async (secret: string) => {
    await op.configure({ clients: [{ ...client, client_secret: secret }] });
    auditProviderTokens(op);
  };

  test('the same secret sent again keeps no previous one', async () => {
    const same = await call('PATCH', appPath, t.adminToken, { client_secret: client.client_secret });
    assert.equal(same.status, 200);
    assert.equal(same.json().has_previous_secret, false);
    assert.equal(same.json().previous_secret_expires_at, null);
  });

  test('PATCHed here first: the provider still knows only the old secret, and refreshes keep working', async () => {
    const before = Date.now();
    const patched = await call('PATCH', appPath, t.adminToken, { client_secret: newSecret });
    assert.equal(patched.status, 200);
    assertResponse('update_external_oauth_application', { statusCode: patched.status, body: patched.body, headers: patched.headers });
    const app = patched.json();
    assert.equal(app.has_previous_secret, true);
    const until = Date.parse(app.previous_secret_expires_at);
    assert.ok(until >= before + OVERLAP_S * 1000 && until <= Date.now() + OVERLAP_S * 1000, app.previous_secret_expires_at);
    assert.equal(JSON.stringify(app).includes(client.client_secret), false);

    await untilExpired();
    const refreshes = op.count('grant.success');
    const answer = await read();
    assert.equal(answer.status, 200, answer.body);
    assert.equal(op.count('grant.success'), refreshes + 1, 'refreshed with the previous secret');
  });

  test('then the provider learns the new secret (and forgets the old): refreshes use the new one', async () => {
    await rotateAtProvider(newSecret);
    await untilExpired();
    const refreshes = op.count('grant.success');
    assert.equal((await read()).status, 200);
    assert.equal(op.count('grant.success'), refreshes + 1);
  });

  test('after the overlap the old secret is no longer tried: a provider that knows only it refuses the client (502)', async () => {
    await rotateAtProvider(client.client_secret);
    await waitFor(async () => (await call('GET', appPath.replace(/\/[^/]+$/, `?client_id=${encodeURIComponent(client.client_id)}`), t.adminToken)).json()[0].has_previous_secret === false, 15_000, 'the overlap to end');
    await untilExpired();
    const refused = await read();
    assert.equal(refused.status, 502, refused.body);
    assert.equal((await call('GET', userStatePath(client.client_id, user.id), user.token)).json().last_error, 'invalid_client');
  });
});
