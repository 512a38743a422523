import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN, bearer, buildTestApp, json, type TestApp } from '../helpers/app.ts';
import { sample, type JsonSchema } from '../helpers/served-document.ts';
import { servedRoutes } from '../helpers/routes.ts';

/** A response property that holds a secret or a token, by its name. */
const SECRET_NAME = /secret|token|password|verifier|code$/i;

/** Names about a secret, not holding one: a flag, a time, an endpoint's URL, a method's name. */
const ABOUT_A_SECRET = /^has_|_expires_at$|_endpoint$|_auth_method$/;

/** Text named like a secret, and not merely about one. */
const holdsSecret = (name: string, schema: JsonSchema) =>
  SECRET_NAME.test(name) && !ABOUT_A_SECRET.test(name) && [schema.type].flat().includes('string');

function carriesSecret(schema: JsonSchema | undefined): boolean {
  if (!schema) return false;
  if (schema.properties && Object.entries(schema.properties).some(([name, property]) => holdsSecret(name, property))) return true;
  return [schema.items, ...(schema.anyOf ?? []), ...(schema.oneOf ?? []), ...Object.values(schema.properties ?? {})].some((s) => carriesSecret(s));
}

/**
 * Issue 10 #7: a response carrying a secret or token is never cached (`Cache-Control: no-store`,
 * `Pragma: no-cache`), and every response says `X-Content-Type-Options: nosniff`.
 */
describe('response headers', () => {
  let t: TestApp;
  let auth: Record<string, string>;
  before(async () => {
    t = await buildTestApp();
    auth = bearer(t.adminToken);
  });
  after(() => t.close());

  const noStore = (response: { headers: Record<string, unknown> }, where: string) => {
    assert.equal(response.headers['cache-control'], 'no-store', where);
    assert.equal(response.headers.pragma, 'no-cache', where);
  };

  test('login, login as a user and a new API credential are not cacheable', async () => {
    const form = await t.inject({
      method: 'POST', url: '/api/4.0/login', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams(ADMIN).toString(),
    });
    assert.equal(form.statusCode, 200);
    noStore(form, 'login');
    const wrong = await t.inject({ method: 'POST', url: '/api/4.0/login', payload: { client_id: ADMIN.client_id, client_secret: 'wrong-0815' } });
    assert.equal(wrong.statusCode, 404);
    noStore(wrong, 'failed login');

    const user = json(await t.inject({ method: 'POST', url: '/api/4.0/users', headers: auth, payload: { first_name: 'C' } }));
    const sudo = await t.inject({ method: 'POST', url: `/api/4.0/login/${user.id}`, headers: auth });
    assert.equal(sudo.statusCode, 200);
    noStore(sudo, 'login_user');

    const creds = await t.inject({ method: 'POST', url: `/api/4.0/users/${user.id}/credentials_api3`, headers: auth, payload: {} });
    assert.equal(creds.statusCode, 200);
    assert.ok(json(creds).client_secret);
    noStore(creds, 'create_user_credentials_api3');
  });

  test('every served operation whose 200 body holds a secret or token field is not cacheable', async () => {
    const routes = servedRoutes(t.app).filter((r) => carriesSecret(r.ok));
    assert.ok(routes.length >= 3, routes.map((r) => r.operationId).join());
    for (const route of routes) {
      const url = route.path.replace(/\{[^}]+\}/g, '1');
      const payload = route.bodySchema ? (sample(route.bodySchema) as object) : undefined;
      const response = await t.inject({ method: route.method, url, headers: auth, ...(payload ? { payload } : {}) });
      noStore(response, `${route.method} ${url} → ${response.statusCode}`);
    }
  });

  test('every response says nosniff: success, error, unknown path, undecodable path, 204', async () => {
    const responses = [
      await t.inject({ method: 'GET', url: '/versions' }),
      await t.inject({ method: 'GET', url: '/api/4.0/users', headers: auth }),
      await t.inject({ method: 'GET', url: '/api/4.0/users' }),
      await t.inject({ method: 'GET', url: '/nowhere' }),
      await t.inject({ method: 'GET', url: '/api/4.0/users/%E0%A4%A', headers: auth }),
      await t.inject({ method: 'POST', url: '/api/4.0/users', headers: { ...auth, 'content-type': 'application/json' }, payload: '{' }),
      await t.inject({ method: 'DELETE', url: '/api/4.0/logout', headers: bearer(json(await t.inject({ method: 'POST', url: '/api/4.0/login', payload: ADMIN })).access_token) }),
    ];
    for (const response of responses) {
      assert.equal(response.headers['x-content-type-options'], 'nosniff', `${response.statusCode} ${response.body.slice(0, 80)}`);
    }
    // Only secret-bearing responses give up caching: an ordinary read keeps the client's choice.
    assert.equal(responses[1].headers['cache-control'], undefined);
  });
});
