import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { TEST_MASTER_KEY, bearer, buildTestApp, json, type TestApp } from '../helpers/app.ts';
import { checkStoredSecrets } from '../../src/cli/doctor.ts';
import { rotateKeys } from '../../src/cli/keys-rotate.ts';
import { SecretBox, parseMasterKeys } from '../../src/crypto/secret-box.ts';
import { assertResponse } from '../helpers/contract.ts';

/**
 * The connect flow's API, in-process: provider settings on applications (validation, round trip), the
 * authorize operation's rules, and what happens to pending authorizations when their application or user
 * goes, or their ten minutes pass. The flow itself runs end to end in test/e2e/oauth-connect.test.ts.
 */
const APPS = '/api/4.0/external_oauth_applications';
const PUBLIC_URL = 'https://eoa.example';
const secret = () => randomBytes(24).toString('base64url');

describe('provider settings and the authorize operation', () => {
  let t: TestApp;
  let admin: Record<string, string>;
  before(async () => {
    t = await buildTestApp({ EOA_PUBLIC_URL: PUBLIC_URL });
    admin = bearer(t.adminToken);
  });
  after(() => t.close());

  const create = (payload: object) => t.inject({ method: 'POST', url: APPS, headers: admin, payload: { name: `app ${secret()}`, client_id: `c-${secret()}`, client_secret: secret(), ...payload } });
  const authorize = (clientId: string, headers = admin, payload?: object) =>
    t.inject({ method: 'POST', url: `${APPS}/${encodeURIComponent(clientId)}/authorize`, headers, ...(payload === undefined ? {} : { payload }) });
  const pending = () => t.app.store.db.selectFrom('oauth_pending_authorizations').selectAll().execute();

  test('the provider fields are accepted on create and PATCH, returned on every read, and null clears them', async () => {
    const created = await create({ dialect_name: 'snowflake', provider_url: 'https://acme-xy12345.snowflakecomputing.com', scopes: 'refresh_token session:role:ANALYST' });
    assert.equal(created.statusCode, 200, created.body);
    assertResponse('create_external_oauth_application', created);
    const app = json(created);
    assert.equal(app.provider_url, 'https://acme-xy12345.snowflakecomputing.com');
    assert.equal(app.token_endpoint, null);
    const patched = json(await t.inject({ method: 'PATCH', url: `${APPS}/${app.client_id}`, headers: admin, payload: { scopes: null, token_endpoint_auth_method: 'client_secret_post' } }));
    assert.equal(patched.scopes, null);
    assert.equal(patched.token_endpoint_auth_method, 'client_secret_post');
    assert.equal(patched.provider_url, 'https://acme-xy12345.snowflakecomputing.com', 'fields left out keep their value');
    const listed = json(await t.inject({ method: 'GET', url: `${APPS}?client_id=${app.client_id}`, headers: admin }));
    assert.equal(listed[0].token_endpoint_auth_method, 'client_secret_post');
  });

  test('one 422 names every bad provider field, with the schema problems; nothing is written', async () => {
    const before = (await t.app.repos.externalOauthApplications.list()).length;
    const response = await create({
      provider_url: 'http://acme.example', authorization_endpoint: 'javascript:alert(1)', token_endpoint: 'https://x/#frag',
      issuer: 'https://op.example/?x=1', scopes: 'a\\b', token_endpoint_auth_method: 'none', revocation_endpoint: 42,
    });
    assert.equal(response.statusCode, 422);
    assertResponse('create_external_oauth_application', response);
    const fields = json(response).errors.map((e: { field: string }) => e.field).sort();
    assert.deepEqual(fields, ['authorization_endpoint', 'issuer', 'provider_url', 'revocation_endpoint', 'scopes', 'token_endpoint', 'token_endpoint_auth_method']);
    assert.equal((await t.app.repos.externalOauthApplications.list()).length, before);
    const app = json(await create({}));
    const patch = await t.inject({ method: 'PATCH', url: `${APPS}/${app.client_id}`, headers: admin, payload: { issuer: 'ftp://op.example' } });
    assert.equal(patch.statusCode, 422);
    assert.deepEqual(json(patch).errors.map((e: { field: string }) => e.field), ['issuer']);
  });

  test('authorize answers the provider URL (no-store) and records a pending authorization; the body is optional', async () => {
    const app = json(await create({ dialect_name: 'databricks', provider_url: 'https://dbc-1234.cloud.databricks.com' }));
    const response = await authorize(app.client_id);
    assert.equal(response.statusCode, 200, response.body);
    assertResponse('authorize_external_oauth_application', response);
    assert.equal(response.headers['cache-control'], 'no-store');
    const { authorization_url, expires_at } = json(response);
    const url = new URL(authorization_url);
    assert.equal(url.origin + url.pathname, 'https://dbc-1234.cloud.databricks.com/oidc/v1/authorize');
    assert.equal(url.searchParams.get('redirect_uri'), `${PUBLIC_URL}/external_oauth/redirect`);
    assert.equal(url.searchParams.get('scope'), 'sql offline_access');
    assert.equal(url.searchParams.get('client_id'), app.client_id);
    const ttl = Date.parse(expires_at) - Date.now();
    assert.ok(ttl > 9 * 60_000 && ttl <= 10 * 60_000, `ten minutes (${ttl} ms)`);
    const rows = (await pending()).filter((r) => String(r.oauth_application_id) === app.id);
    assert.equal(rows.length, 1);
    assert.equal(String(rows[0].user_id), '1');
    assert.ok(!JSON.stringify(rows).includes(url.searchParams.get('state')!), 'the state is stored only as a hash');
  });

  test('a member connects themselves; an unknown application is 404; an application without provider settings is a 422 that says what to set', async () => {
    const member = await t.newUser();
    const app = json(await create({ issuer: 'http://127.0.0.1:9', authorization_endpoint: 'http://127.0.0.1:9/auth', token_endpoint: 'http://127.0.0.1:9/token', revocation_endpoint: 'http://127.0.0.1:9/revoke' }));
    const mine = await authorize(app.client_id, bearer(member.token), { return_to: '/home' });
    assert.equal(mine.statusCode, 200, mine.body);
    assert.ok((await pending()).some((r) => String(r.user_id) === member.id && r.return_to === `${PUBLIC_URL}/home`));
    assert.equal((await authorize('no-such-application')).statusCode, 404);
    const bare = json(await create({ dialect_name: 'snowflake' }));
    const response = await authorize(bare.client_id);
    assert.equal(response.statusCode, 422);
    assertResponse('authorize_external_oauth_application', response);
    assert.equal(json(response).errors[0].field, 'provider_url');
    assert.match(json(response).errors[0].message, /snowflake account URL/);
  });

  test('deleting the application or the user deletes their pending authorizations; expired ones are purged', async () => {
    const member = await t.newUser();
    const app = json(await create({ dialect_name: 'snowflake', provider_url: 'https://acme.snowflakecomputing.com' }));
    const other = json(await create({ dialect_name: 'snowflake', provider_url: 'https://acme.snowflakecomputing.com' }));
    for (const [clientId, token] of [[app.client_id, member.token], [other.client_id, member.token], [other.client_id, t.adminToken]]) {
      assert.equal((await authorize(clientId, bearer(token))).statusCode, 200);
    }
    const count = async (where: (r: { user_id: unknown; oauth_application_id: unknown }) => boolean) => (await pending()).filter(where).length;
    assert.equal(await count((r) => String(r.oauth_application_id) === app.id), 1);
    assert.equal((await t.inject({ method: 'DELETE', url: `${APPS}/${app.client_id}`, headers: admin })).statusCode, 204);
    assert.equal(await count((r) => String(r.oauth_application_id) === app.id), 0);
    assert.equal((await t.inject({ method: 'DELETE', url: `/api/4.0/users/${member.id}`, headers: admin })).statusCode, 204);
    assert.equal(await count((r) => String(r.user_id) === member.id), 0);
    assert.equal(await count((r) => String(r.oauth_application_id) === other.id), 1, "the admin's stays");

    await t.app.store.db.updateTable('oauth_pending_authorizations').set({ expires_at: new Date(Date.now() - 1).toISOString() }).where('oauth_application_id', '=', other.id).execute();
    const live = (await pending()).length;
    assert.ok((await t.app.services.oauthConnect.purgeExpired()) >= 1);
    assert.equal((await pending()).length, live - 1);
  });
});

describe('authorize without EOA_PUBLIC_URL', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp();
  });
  after(() => t.close());

  test('a 422 that says to set EOA_PUBLIC_URL, and nothing recorded', async () => {
    const app = json(await t.inject({ method: 'POST', url: APPS, headers: bearer(t.adminToken), payload: { name: 'n', client_id: 'c', client_secret: secret(), dialect_name: 'snowflake', provider_url: 'https://a.snowflakecomputing.com' } }));
    const response = await t.inject({ method: 'POST', url: `${APPS}/${app.client_id}/authorize`, headers: bearer(t.adminToken), payload: {} });
    assert.equal(response.statusCode, 422);
    assertResponse('authorize_external_oauth_application', response);
    assert.match(json(response).errors[0].message, /EOA_PUBLIC_URL/);
    assert.equal((await t.app.store.db.selectFrom('oauth_pending_authorizations').selectAll().execute()).length, 0);
  });
});

describe('pending authorizations and the master key', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp({ EOA_PUBLIC_URL: PUBLIC_URL });
  });
  after(() => t.close());

  test('doctor checks the sealed verifiers of flows in progress, and keys rotate re-seals them', async () => {
    const app = json(await t.inject({ method: 'POST', url: APPS, headers: bearer(t.adminToken), payload: { name: 'n', client_id: 'c', client_secret: secret(), dialect_name: 'snowflake', provider_url: 'https://a.snowflakecomputing.com' } }));
    assert.equal((await t.inject({ method: 'POST', url: `${APPS}/${app.client_id}/authorize`, headers: bearer(t.adminToken) })).statusCode, 200);
    const oldBox = t.app.secretBox;
    const before = await checkStoredSecrets(t.app.repos, oldBox);
    assert.equal(before.failed, 0, before.examples.join('\n'));
    assert.equal(before.checked, 2, 'the client secret and one verifier');

    const newKey = { id: 'next', key: randomBytes(32) };
    const both = new SecretBox([newKey, ...parseMasterKeys(TEST_MASTER_KEY)]);
    const report = await rotateKeys(t.app.store, both, { batchSize: 10, pauseMs: 0 });
    assert.equal(report.remaining, 0);
    const [row] = await t.app.store.db.selectFrom('oauth_pending_authorizations').selectAll().execute();
    assert.ok(row.code_verifier_sealed.startsWith('v1.next.'), 'the verifier is under the new key');
    assert.equal((await checkStoredSecrets(t.app.repos, new SecretBox([newKey]))).failed, 0, 'the old key can go');
    const broken = await checkStoredSecrets(t.app.repos, new SecretBox(parseMasterKeys(TEST_MASTER_KEY)));
    assert.ok(
      broken.byKey.some((k) => k.column === 'oauth_pending_authorizations.code_verifier' && k.keyId === 'next' && k.failed === 1),
      JSON.stringify(broken.byKey),
    );
    assert.ok(broken.examples.some((e) => /^oauth_pending_authorizations\.code_verifier pending authorization of user 1/.test(e)), broken.examples.join('\n'));
  });
});
