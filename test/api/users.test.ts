import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN, bearer, buildTestApp, json, loginToken, type TestApp } from '../helpers/app.ts';
import { assertResponse } from '../helpers/contract.ts';

describe('users', () => {
  let t: TestApp;
  let admin: Record<string, string>;
  before(async () => {
    t = await buildTestApp();
    admin = bearer(t.adminToken);
  });
  after(() => t.close());

  const create = (payload: object) => t.inject({ method: 'POST', url: '/api/4.0/users', headers: admin, payload });

  test('me: the caller, in Looker\'s User shape, with their API credentials and no secret', async () => {
    const response = await t.inject({ method: 'GET', url: '/api/4.0/user', headers: admin });
    assert.equal(response.statusCode, 200);
    assertResponse('me', response);
    const me = json(response);
    assert.equal(me.id, '1');
    assert.deepEqual(me.role_ids, ['1']);
    assert.equal(me.is_disabled, false);
    assert.equal(me.credentials_api3.length, 1);
    assert.equal(me.credentials_api3[0].client_id, ADMIN.client_id);
    assert.ok(!response.body.includes(ADMIN.client_secret));
    assert.ok(!response.body.includes('scrypt'));
    assert.match(me.url, /\/api\/4\.0\/users\/1$/);
    // The admin may not delete or sudo themself.
    assert.equal(me.can.destroy, false);
    assert.equal(me.can.sudo, false);
  });

  test('a non-admin reads themself through me and users/{id}', async () => {
    const member = await t.newUser();
    for (const url of ['/api/4.0/user', `/api/4.0/users/${member.id}`]) {
      const response = await t.inject({ method: 'GET', url, headers: bearer(member.token) });
      assert.equal(response.statusCode, 200);
      assertResponse(url.endsWith('/user') ? 'me' : 'user', response);
      assert.equal(json(response).id, member.id);
      assert.equal(json(response).can.index, false);
    }
  });

  test('create_user: 200 with the given fields, no roles, no credentials', async () => {
    const response = await create({ first_name: 'Ada', last_name: 'Lovelace', email: 'ada@example.com', locale: 'en_GB' });
    assert.equal(response.statusCode, 200);
    assertResponse('create_user', response);
    const user = json(response);
    assert.match(user.id, /^\d+$/);
    assert.equal(user.display_name, 'Ada Lovelace');
    assert.equal(user.email, 'ada@example.com');
    assert.equal(user.locale, 'en_GB');
    assert.deepEqual(user.role_ids, []);
    assert.deepEqual(user.credentials_api3, []);
    assert.ok(!Number.isNaN(Date.parse(user.created_at)));
  });

  test('create_user with a taken email: 409 naming it', async () => {
    assert.equal((await create({ email: 'taken@example.com' })).statusCode, 200);
    const response = await create({ email: 'taken@example.com', first_name: 'Other' });
    assert.equal(response.statusCode, 409);
    assertResponse('create_user', response);
    assert.match(json(response).message, /email/);
  });

  test('create_user ignores read-only fields a client sends back (Looker does)', async () => {
    const response = await create({ first_name: 'Copy', id: '1', role_ids: ['1'], can: { sudo: true }, credentials_api3: [] });
    assert.equal(response.statusCode, 200);
    const user = json(response);
    assert.notEqual(user.id, '1');
    assert.deepEqual(user.role_ids, []);
  });

  test('create_user with several bad fields: 422 listing every one', async () => {
    const response = await create({ first_name: 42, last_name: 'x'.repeat(300), email: 'not-an-email', locale: 'english!', is_disabled: 'no' });
    assert.equal(response.statusCode, 422);
    assertResponse('create_user', response);
    const body = json(response);
    assert.equal(body.message, 'Validation Failed');
    assert.deepEqual(
      body.errors.map((e: { field: string; code: string }) => `${e.field}:${e.code}`).sort(),
      ['email:invalid', 'first_name:invalid', 'is_disabled:invalid', 'last_name:invalid', 'locale:invalid'],
    );
    const firstName = body.errors.find((e: { field: string }) => e.field === 'first_name');
    assert.equal(firstName.message, 'Must be string or null.');
    for (const e of body.errors) assert.match(e.documentation_url, /\/docs\/errors#422$/);
  });

  test('all_users: every user, with limit, offset and ids', async () => {
    const all = await t.inject({ method: 'GET', url: '/api/4.0/users', headers: admin });
    assert.equal(all.statusCode, 200);
    assertResponse('all_users', all);
    const ids = json(all).map((u: { id: string }) => u.id);
    assert.ok(ids.length >= 3);
    assert.deepEqual(ids, [...ids].sort((a: string, b: string) => Number(a) - Number(b)));

    const page = json(await t.inject({ method: 'GET', url: '/api/4.0/users?limit=2&offset=1', headers: admin }));
    assert.deepEqual(
      page.map((u: { id: string }) => u.id),
      ids.slice(1, 3),
    );
    const some = json(await t.inject({ method: 'GET', url: `/api/4.0/users?ids=${ids[0]},${ids[2]},nope`, headers: admin }));
    assert.deepEqual(
      some.map((u: { id: string }) => u.id),
      [ids[0], ids[2]],
    );
  });

  test("all_users and me accept Looker's other query parameters (fields, page, per_page, sorts) and answer in full", async () => {
    for (const url of ['/api/4.0/users?fields=id,first_name&page=1&per_page=5&sorts=id', '/api/4.0/user?fields=id']) {
      const response = await t.inject({ method: 'GET', url, headers: admin });
      assert.equal(response.statusCode, 200, url);
      assertResponse(url.includes('/users') ? 'all_users' : 'me', response);
      const first = [json(response)].flat()[0];
      assert.ok('credentials_api3' in first && 'email' in first);
    }
  });

  test('all_users with bad paging: 400 (Looker documents no 422 for a query string) naming both', async () => {
    const response = await t.inject({ method: 'GET', url: '/api/4.0/users?limit=many&offset=-1', headers: admin });
    assert.equal(response.statusCode, 400);
    assertResponse('all_users', response);
    assert.match(json(response).message, /limit: .*offset: /);
  });

  test('user: 200 by id, 404 for an unknown one', async () => {
    const ok = await t.inject({ method: 'GET', url: '/api/4.0/users/1', headers: admin });
    assert.equal(ok.statusCode, 200);
    assertResponse('user', ok);
    const missing = await t.inject({ method: 'GET', url: '/api/4.0/users/424242', headers: admin });
    assert.equal(missing.statusCode, 404);
    assertResponse('user', missing);
    assert.equal(json(missing).message, 'Not found');
  });

  test('update_user: changes only what is sent; read-only fields are ignored', async () => {
    const user = json(await create({ first_name: 'Before', last_name: 'Same' }));
    const response = await t.inject({
      method: 'PATCH',
      url: `/api/4.0/users/${user.id}`,
      headers: admin,
      payload: { ...user, first_name: 'After', can: {}, role_ids: ['1'], id: '1' },
    });
    assert.equal(response.statusCode, 200);
    assertResponse('update_user', response);
    const updated = json(response);
    assert.equal(updated.id, user.id);
    assert.equal(updated.first_name, 'After');
    assert.equal(updated.last_name, 'Same');
    assert.deepEqual(updated.role_ids, []);

    const cleared = json(await t.inject({ method: 'PATCH', url: `/api/4.0/users/${user.id}`, headers: admin, payload: { last_name: null } }));
    assert.equal(cleared.last_name, null);
    assert.equal(cleared.first_name, 'After');
  });

  test('update_user errors: 404 unknown, 422 taken email or bad fields, 403 disabling yourself', async () => {
    const missing = await t.inject({ method: 'PATCH', url: '/api/4.0/users/424242', headers: admin, payload: { first_name: 'x' } });
    assert.equal(missing.statusCode, 404);
    assertResponse('update_user', missing);

    await create({ email: 'first@example.com' });
    const other = json(await create({ email: 'second@example.com' }));
    const taken = await t.inject({ method: 'PATCH', url: `/api/4.0/users/${other.id}`, headers: admin, payload: { email: 'first@example.com' } });
    assert.equal(taken.statusCode, 422);
    assertResponse('update_user', taken);
    assert.deepEqual(json(taken).errors.map((e: { field: string; code: string }) => [e.field, e.code]), [['email', 'already_exists']]);

    const bad = await t.inject({ method: 'PATCH', url: `/api/4.0/users/${other.id}`, headers: admin, payload: { email: 5, is_disabled: null } });
    assert.equal(bad.statusCode, 422);
    assert.equal(json(bad).errors.length, 2);

    const self = await t.inject({ method: 'PATCH', url: '/api/4.0/users/1', headers: admin, payload: { is_disabled: true } });
    assert.equal(self.statusCode, 403);
    assertResponse('update_user', self);
  });

  test('a disabled user: live tokens answer 401, login answers 404; enabled again, login works but old tokens stay dead', async () => {
    const member = await t.newUser();
    const disable = await t.inject({ method: 'PATCH', url: `/api/4.0/users/${member.id}`, headers: admin, payload: { is_disabled: true } });
    assert.equal(json(disable).is_disabled, true);
    const me = await t.inject({ method: 'GET', url: '/api/4.0/user', headers: bearer(member.token) });
    assert.equal(me.statusCode, 401);
    assertResponse('me', me);
    await assert.rejects(loginToken(t.app, member.client_id, member.client_secret), /login failed: 404/);

    await t.inject({ method: 'PATCH', url: `/api/4.0/users/${member.id}`, headers: admin, payload: { is_disabled: false } });
    const token = await loginToken(t.app, member.client_id, member.client_secret);
    assert.equal((await t.inject({ method: 'GET', url: '/api/4.0/user', headers: bearer(token) })).statusCode, 200);
    assert.equal((await t.inject({ method: 'GET', url: '/api/4.0/user', headers: bearer(member.token) })).statusCode, 401);
  });

  test('delete_user: 204 without Content-Type, then 404; their tokens and credentials are gone', async () => {
    const member = await t.newUser();
    const response = await t.inject({ method: 'DELETE', url: `/api/4.0/users/${member.id}`, headers: admin });
    assert.equal(response.statusCode, 204);
    assertResponse('delete_user', response);
    assert.equal((await t.inject({ method: 'GET', url: `/api/4.0/users/${member.id}`, headers: admin })).statusCode, 404);
    const again = await t.inject({ method: 'DELETE', url: `/api/4.0/users/${member.id}`, headers: admin });
    assert.equal(again.statusCode, 404);
    assertResponse('delete_user', again);
    assert.equal((await t.inject({ method: 'GET', url: '/api/4.0/user', headers: bearer(member.token) })).statusCode, 401);
    await assert.rejects(loginToken(t.app, member.client_id, member.client_secret), /login failed: 404/);
    const left = await t.app.store.db.selectFrom('credentials_api3').select('id').where('client_id', '=', member.client_id).execute();
    assert.deepEqual(left, []);
  });

  test('delete_user on yourself: 403', async () => {
    const response = await t.inject({ method: 'DELETE', url: '/api/4.0/users/1', headers: admin });
    assert.equal(response.statusCode, 403);
    assertResponse('delete_user', response);
    assert.equal((await t.inject({ method: 'GET', url: '/api/4.0/user', headers: admin })).statusCode, 200);
  });
});
