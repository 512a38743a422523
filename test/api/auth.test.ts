import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN, bearer, buildTestApp, json, type TestApp } from '../helpers/app.ts';
import { assertResponse } from '../helpers/contract.ts';

describe('login and logout', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp();
  });
  after(() => t.close());

  const form = (body: Record<string, string>) => ({
    method: 'POST' as const,
    url: '/api/4.0/login',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams(body).toString(),
  });

  test('form credentials give a Bearer token with expires_in', async () => {
    const response = await t.inject(form(ADMIN));
    assert.equal(response.statusCode, 200);
    assertResponse('login', response);
    const token = json(response);
    assert.equal(token.token_type, 'Bearer');
    assert.equal(token.expires_in, 3600);
    assert.match(token.access_token, /^[A-Za-z0-9_-]{43}$/);
  });

  test('wrong secret, unknown client_id and missing fields all answer 404 Not found', async () => {
    for (const body of [{ ...ADMIN, client_secret: 'wrong' }, { client_id: 'nobody', client_secret: 'x' }, { client_id: ADMIN.client_id }]) {
      const response = await t.inject(form(body as Record<string, string>));
      assert.equal(response.statusCode, 404);
      assertResponse('login', response);
      assert.equal(json(response).message, 'Not found');
    }
  });

  test('logout ends the token: 204 without Content-Type, then 401', async () => {
    const token = json(await t.inject(form(ADMIN))).access_token;
    const logout = await t.inject({ method: 'DELETE', url: '/api/4.0/logout', headers: bearer(token) });
    assert.equal(logout.statusCode, 204);
    assertResponse('logout', logout);
    const me = await t.inject({ method: 'GET', url: '/api/4.0/user', headers: { authorization: `token ${token}` } });
    assert.equal(me.statusCode, 401);
    assertResponse('me', me);
    assert.equal(json(me).message, 'Requires authentication.');
  });
});
