import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { bearer, buildTestApp, json, type TestApp } from '../helpers/app.ts';
import { assertResponse } from '../helpers/contract.ts';

describe('roles', () => {
  let t: TestApp;
  let admin: Record<string, string>;
  before(async () => {
    t = await buildTestApp();
    admin = bearer(t.adminToken);
  });
  after(() => t.close());

  const names = (roles: Array<{ name: string }>) => roles.map((r) => r.name);

  test('all_roles: the built-in Admin (1) and User (2)', async () => {
    const response = await t.inject({ method: 'GET', url: '/api/4.0/roles', headers: admin });
    assert.equal(response.statusCode, 200);
    assertResponse('all_roles', response);
    const roles = json(response);
    assert.deepEqual(
      roles.map((r: { id: string; name: string }) => [r.id, r.name]),
      [
        ['1', 'Admin'],
        ['2', 'User'],
      ],
    );
    assert.equal(roles[0].permission_set.all_access, true);
    assert.equal(roles[1].permission_set.all_access, false);
  });

  test('all_roles?ids= picks roles', async () => {
    const roles = json(await t.inject({ method: 'GET', url: '/api/4.0/roles?ids=2,7', headers: admin }));
    assert.deepEqual(names(roles), ['User']);
  });

  test('user_roles: the admin has Admin; a new user has none', async () => {
    const response = await t.inject({ method: 'GET', url: '/api/4.0/users/1/roles', headers: admin });
    assert.equal(response.statusCode, 200);
    assertResponse('user_roles', response);
    assert.deepEqual(names(json(response)), ['Admin']);
    const user = json(await t.inject({ method: 'POST', url: '/api/4.0/users', headers: admin, payload: {} }));
    assert.deepEqual(json(await t.inject({ method: 'GET', url: `/api/4.0/users/${user.id}/roles`, headers: admin })), []);
    const missing = await t.inject({ method: 'GET', url: '/api/4.0/users/424242/roles', headers: admin });
    assert.equal(missing.statusCode, 404);
    assertResponse('user_roles', missing);
  });

  test('set_user_roles replaces the roles, and the change takes effect on live tokens', async () => {
    const member = await t.newUser();
    assert.equal((await t.inject({ method: 'GET', url: '/api/4.0/users', headers: bearer(member.token) })).statusCode, 404);

    const promote = await t.inject({ method: 'PUT', url: `/api/4.0/users/${member.id}/roles`, headers: admin, payload: ['1', '2', '1'] });
    assert.equal(promote.statusCode, 200);
    assertResponse('set_user_roles', promote);
    assert.deepEqual(names(json(promote)), ['Admin', 'User']);
    assert.equal((await t.inject({ method: 'GET', url: '/api/4.0/users', headers: bearer(member.token) })).statusCode, 200);

    const demote = await t.inject({ method: 'PUT', url: `/api/4.0/users/${member.id}/roles`, headers: admin, payload: [] });
    assert.deepEqual(json(demote), []);
    assert.equal((await t.inject({ method: 'GET', url: '/api/4.0/users', headers: bearer(member.token) })).statusCode, 404);
    const user = json(await t.inject({ method: 'GET', url: `/api/4.0/users/${member.id}`, headers: admin }));
    assert.deepEqual(user.role_ids, []);
  });

  test('set_user_roles errors: unknown roles 422 (each named), unknown user 404, removing your own Admin 403', async () => {
    const user = json(await t.inject({ method: 'POST', url: '/api/4.0/users', headers: admin, payload: {} }));
    const unknown = await t.inject({ method: 'PUT', url: `/api/4.0/users/${user.id}/roles`, headers: admin, payload: ['2', '8', '9'] });
    assert.equal(unknown.statusCode, 422);
    assertResponse('set_user_roles', unknown);
    assert.equal(json(unknown).errors.length, 2);
    assert.deepEqual(json(await t.inject({ method: 'GET', url: `/api/4.0/users/${user.id}/roles`, headers: admin })), [], 'nothing was set');

    const missing = await t.inject({ method: 'PUT', url: '/api/4.0/users/424242/roles', headers: admin, payload: ['2'] });
    assert.equal(missing.statusCode, 404);
    assertResponse('set_user_roles', missing);

    const self = await t.inject({ method: 'PUT', url: '/api/4.0/users/1/roles', headers: admin, payload: ['2'] });
    assert.equal(self.statusCode, 403);
    assertResponse('set_user_roles', self);
    assert.deepEqual(names(json(await t.inject({ method: 'GET', url: '/api/4.0/users/1/roles', headers: admin }))), ['Admin']);
  });

  test('another spelling of your own id is no way around self-protection: 404, and your roles stay', async () => {
    // Issue 10, defect 2: `PUT /users/01/roles ["2"]` by user 1 answered 200 and demoted the last admin.
    for (const spelling of ['01', '001', '+1', '1.0', '%201', '1%20', '1e0', '%EF%BC%91', '0x1']) {
      for (const [method, url, payload] of [
        ['PUT', `/api/4.0/users/${spelling}/roles`, ['2']],
        ['PATCH', `/api/4.0/users/${spelling}`, { is_disabled: true }],
        ['DELETE', `/api/4.0/users/${spelling}`, undefined],
      ] as const) {
        const response = await t.inject({ method, url, headers: admin, ...(payload === undefined ? {} : { payload: payload as object }) });
        assert.equal(response.statusCode, 404, `${method} ${url}: ${response.body}`);
        assertResponse(method === 'PUT' ? 'set_user_roles' : method === 'PATCH' ? 'update_user' : 'delete_user', response);
      }
    }
    const me = json(await t.inject({ method: 'GET', url: '/api/4.0/users/1', headers: admin }));
    assert.deepEqual([me.role_ids, me.is_disabled], [['1'], false]);
  });

  test('set_user_roles with a bad body: 400 for a non-array, 422 for bad items', async () => {
    const wrong = await t.inject({ method: 'PUT', url: '/api/4.0/users/1/roles', headers: admin, payload: { role_ids: ['1'] } });
    assert.equal(wrong.statusCode, 400);
    assertResponse('set_user_roles', wrong);
    assert.match(json(wrong).message, /JSON array/);
    const items = await t.inject({ method: 'PUT', url: '/api/4.0/users/1/roles', headers: admin, payload: [1, 'x'.repeat(40)] });
    assert.equal(items.statusCode, 422);
    assertResponse('set_user_roles', items);
    assert.equal(json(items).errors.length, 2);
  });
});
