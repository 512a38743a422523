import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN, bearer, buildTestApp, json, loginToken } from '../helpers/app.ts';
import { auditSecret } from '../helpers/audit.ts';
import { leakedSecrets, randomSecret } from './support.ts';

/**
 * No secret in any audit event. A session that handles every kind of secret the service knows (client
 * secrets created and rotated, user-state tokens, generated API secrets, access tokens from login and
 * login/{user_id}, wrong secrets, a secret typed into the client_id field) and then looks for each of them
 * in every stored event row and in what GET audit_events answers. The rows also go to the suite-wide
 * secret audit when the app closes (test/helpers/app.ts).
 */
test('no audit event carries a secret or token, stored or answered', async () => {
  const t = await buildTestApp({ EOA_LOGIN_GUARD_MAX: '1000' });
  const secrets: string[] = [ADMIN.client_secret, t.adminToken];
  try {
    const admin = bearer(t.adminToken);
    const member = await t.newUser();
    secrets.push(member.client_secret, member.token);

    const appSecret = randomSecret();
    const app = json(await t.inject({ method: 'POST', url: '/api/4.0/external_oauth_applications', headers: admin, payload: { name: 'Secretive', client_id: 'secretive', client_secret: appSecret } }));
    const rotated = randomSecret();
    await t.inject({ method: 'PATCH', url: '/api/4.0/external_oauth_applications/secretive', headers: admin, payload: { client_secret: rotated, tenant_id: 'tenant' } });
    const sudo = json(await t.inject({ method: 'POST', url: `/api/4.0/login/${member.id}`, headers: admin })).access_token as string;
    const tokens = { access: randomSecret(), refresh: randomSecret() };
    const state = await t.inject({
      method: 'POST',
      url: '/api/4.0/external_oauth_applications/user_state',
      headers: bearer(sudo),
      payload: { user_id: member.id, oauth_application_id: app.id, access_token: tokens.access, access_token_expires_at: '2031-01-01T00:00:00Z', refresh_token: tokens.refresh },
    });
    assert.equal(state.statusCode, 200);
    const creds = json(await t.inject({ method: 'POST', url: `/api/4.0/users/${member.id}/credentials_api3`, headers: admin, payload: { purpose: 'scan' } }));
    const login = await loginToken(t.app, creds.client_id, creds.client_secret);
    secrets.push(appSecret, rotated, sudo, tokens.access, tokens.refresh, creds.client_secret, login);

    // Wrong secrets, and secrets in the wrong field: none of what a failed login presents is kept.
    const wrong = randomSecret();
    const form = (body: Record<string, string>) =>
      t.inject({ method: 'POST', url: '/api/4.0/login', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams(body).toString() });
    assert.equal((await form({ client_id: creds.client_id, client_secret: wrong })).statusCode, 404);
    assert.equal((await form({ client_id: creds.client_secret, client_secret: creds.client_secret })).statusCode, 404);
    assert.equal((await form({ client_id: appSecret, client_secret: wrong })).statusCode, 404);
    secrets.push(wrong);
    auditSecret('wrong login secret', wrong);
    await t.app.services.audit.flushFailedLogins(true);

    const rows = await t.app.store.db.selectFrom('audit_events').selectAll().execute();
    const stored = rows.map((row) => JSON.stringify(row)).join('\n');
    const answered = (await t.inject({ method: 'GET', url: '/api/4.0/audit_events?limit=10000', headers: admin })).body;
    const actions = new Set(rows.map((r) => r.action));
    for (const action of ['external_oauth_application.create', 'external_oauth_application.rotate_secret', 'session.login_user', 'user_state.set', 'credentials_api3.create', 'session.login']) {
      assert.ok(actions.has(action), `the session recorded ${action}`);
    }
    assert.ok(rows.some((r) => r.outcome === 'failure'), 'the failed logins are there');
    assert.equal(JSON.parse(answered).events.length, rows.length);
    assert.ok(secrets.every((s) => s.length >= 16), 'every secret is long enough to be found');
    assert.deepEqual(leakedSecrets(stored, secrets), [], 'stored events');
    assert.deepEqual(leakedSecrets(answered, secrets), [], 'answered events');
  } finally {
    await t.close();
  }
});
