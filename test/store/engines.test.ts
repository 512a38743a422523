import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { bearer, buildTestApp, json, type TestApp } from '../helpers/app.ts';
import { assertResponse } from '../helpers/contract.ts';
import { uniqueViolationColumn, isForeignKeyViolation } from '../../src/store/unique-violation.ts';

/**
 * The store behaves the same on SQLite and PostgreSQL: this file runs in both of .ci/run's passes, and
 * each assertion holds on either engine. What the engines hand back differs (0/1 or booleans, text or
 * Dates, numbers or bigint strings); the repositories' values are what must not.
 */
describe(`store values and errors (${process.env.TEST_DATABASE_URL ? 'PostgreSQL' : 'SQLite'})`, () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp();
  });
  after(() => t?.close());

  const repos = () => t.app.repos;
  const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

  test('the engine under test is the one asked for', () => {
    assert.equal(t.app.store.engine, process.env.TEST_DATABASE_URL ? 'postgres' : 'sqlite');
  });

  test('ids are decimal strings, booleans are booleans, times are ISO-8601 UTC with milliseconds', async () => {
    const user = await repos().users.insert({ first_name: 'V', is_disabled: true }, ['2']);
    assert.match(user.id, /^\d+$/);
    assert.equal(user.is_disabled, true);
    assert.match(user.created_at, ISO);
    assert.deepEqual(user.role_ids, ['2']);
    const again = await repos().users.findById(user.id);
    assert.deepEqual(again, user);
    const enabled = await repos().users.update(user.id, { is_disabled: false });
    assert.equal(enabled?.is_disabled, false);
    assert.equal(typeof (await repos().users.count()), 'number');

    const app = await repos().externalOauthApplications.insert({
      name: 'values', client_id: 'values-client', client_secret_sealed: 'v1.x.y', tenant_id: null,
      dialect_name: 'snowflake', bi_directional_data_access: null,
    });
    assert.equal(app.bi_directional_data_access, null);
    assert.match(app.id, /^\d+$/);
    assert.match(app.created_at, ISO);
    for (const value of [true, false, null]) {
      const updated = await repos().externalOauthApplications.update('values-client', { bi_directional_data_access: value });
      assert.equal(updated?.bi_directional_data_access, value);
    }
  });

  test('an application as its insert hands it back is the application as read, in the group commit and outside it', async () => {
    const fields = {
      name: 'as-read', client_id: 'as-read-client', client_secret_sealed: 'v1.x.y', tenant_id: 't', dialect_name: null,
      bi_directional_data_access: true, provider_url: 'https://idp.example', scopes: 'openid',
    };
    const alone = await repos().externalOauthApplications.insert(fields);
    assert.deepEqual(alone, await repos().externalOauthApplications.findByClientId(fields.client_id));
    const batched = await t.app.services.writes.run((tx) =>
      repos().externalOauthApplications.insert({ ...fields, name: 'as-read-2', client_id: 'as-read-client-2', bi_directional_data_access: false }, tx),
    );
    assert.deepEqual(batched, await repos().externalOauthApplications.findByClientId('as-read-client-2'));
    assert.equal(Number(batched.id), Number(alone.id) + 1);
  });

  test('a stored time comes back as the same instant, to the millisecond', async () => {
    const user = await repos().users.insert({ first_name: 'T' }, []);
    const app = await repos().externalOauthApplications.insert({
      name: 'times', client_id: 'times-client', client_secret_sealed: 'v1.x.y', tenant_id: null,
      dialect_name: null, bi_directional_data_access: true,
    });
    for (const expires of ['0001-01-01T00:00:00.000Z', '2030-06-15T12:34:56.789Z', '9999-12-31T23:59:59.999Z']) {
      await repos().userStates.upsert({
        user_id: user.id, oauth_application_id: app.id, access_token_sealed: 'v1.a.b',
        access_token_expires_at: expires, refresh_token_sealed: null, refresh_token_expires_at: null,
      });
      const state = await repos().tokenStates.find({ user_id: user.id, oauth_application_id: app.id });
      assert.equal(state?.access_token_expires_at, expires);
      assert.equal(state?.refresh_token_expires_at, null);
    }
  });

  test('a unique violation names its column on either engine', async () => {
    const caught = async (work: () => Promise<unknown>) => {
      try {
        await work();
      } catch (error) {
        return error;
      }
      assert.fail('expected a unique violation');
    };
    await repos().users.insert({ email: 'taken@example.com' }, []);
    assert.equal(uniqueViolationColumn(await caught(() => repos().users.insert({ email: 'taken@example.com' }, []))), 'email');

    const fields = { name: 'unique', client_id: 'unique-client', client_secret_sealed: 'v1.x.y', tenant_id: null, dialect_name: null, bi_directional_data_access: null };
    await repos().externalOauthApplications.insert(fields);
    assert.equal(uniqueViolationColumn(await caught(() => repos().externalOauthApplications.insert({ ...fields, name: 'other' }))), 'client_id');
    assert.equal(uniqueViolationColumn(await caught(() => repos().externalOauthApplications.insert({ ...fields, client_id: 'other' }))), 'name');

    // A composite primary key is named by its first column, as SQLite's message does.
    const user = await repos().users.insert({}, []);
    await repos().users.setRoles(user.id, ['2']);
    const duplicateRole = await caught(() => t.app.store.db.insertInto('user_roles').values({ user_id: user.id, role_id: '2' }).execute());
    assert.equal(uniqueViolationColumn(duplicateRole), 'user_id');
    assert.equal(uniqueViolationColumn(new Error('something else')), null);
  });

  test('a foreign key to a missing row is recognised on either engine', async () => {
    let error: unknown;
    try {
      await t.app.store.db.insertInto('user_roles').values({ user_id: '999999', role_id: '2' }).execute();
    } catch (caught) {
      error = caught;
    }
    assert.ok(isForeignKeyViolation(error), String(error));
    assert.ok(!isForeignKeyViolation(new Error('x')));
  });

  test('U+0000 is refused: 422 in a body, 400 in a query string, 404 in a path, the same on both engines', async () => {
    const auth = bearer(t.adminToken);
    const created = await t.inject({
      method: 'POST', url: '/api/4.0/external_oauth_applications', headers: auth,
      payload: { name: 'n\u0000', client_id: 'c\u0000', client_secret: 's', dialect_name: 'snowflake' },
    });
    assert.equal(created.statusCode, 422);
    assertResponse('create_external_oauth_application', created);
    assert.deepEqual(json(created).errors.map((e: { field: string }) => e.field), ['name', 'client_id']);

    const user = await t.inject({ method: 'POST', url: '/api/4.0/users', headers: auth, payload: { first_name: 'a\u0000' } });
    assert.equal(user.statusCode, 422);
    assertResponse('create_user', user);

    // In a query string it is a 400, in a path the 404 of a name that exists nowhere (http/well-formed-text.ts).
    const list = await t.inject({ method: 'GET', url: '/api/4.0/external_oauth_applications?client_id=a%00b', headers: auth });
    assert.equal(list.statusCode, 400);
    assertResponse('all_external_oauth_applications', list);
    const one = await t.inject({ method: 'DELETE', url: '/api/4.0/external_oauth_applications/a%00b', headers: auth });
    assert.equal(one.statusCode, 404);

    const login = await t.inject({
      method: 'POST', url: '/api/4.0/login', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'client_id=a%00&client_secret=b',
    });
    assert.equal(login.statusCode, 422);
    assert.deepEqual(json(login).errors.map((e: { field: string }) => e.field), ['client_id']);
  });

  test('times outside year 1 to 9999 (after the offset is applied) are a 422, not a store error', async () => {
    const auth = bearer(t.adminToken);
    const app = json(await t.inject({
      method: 'POST', url: '/api/4.0/external_oauth_applications', headers: auth,
      payload: { name: 'range', client_id: 'range-client', client_secret: 's', dialect_name: 'snowflake' },
    }));
    for (const when of ['0000-06-01T00:00:00Z', '9999-12-31T23:00:00-05:00', '0001-01-01T00:00:00+01:00']) {
      const response = await t.inject({
        method: 'POST', url: '/api/4.0/external_oauth_applications/user_state', headers: auth,
        payload: { user_id: '1', oauth_application_id: app.id, access_token: 'x', access_token_expires_at: when },
      });
      assert.equal(response.statusCode, 422, `${when}: ${response.body}`);
      assertResponse('create_oauth_application_user_state', response);
    }
    const edge = await t.inject({
      method: 'POST', url: '/api/4.0/external_oauth_applications/user_state', headers: auth,
      payload: { user_id: '1', oauth_application_id: app.id, access_token: 'x', access_token_expires_at: '9999-12-31T23:59:59.999Z' },
    });
    assert.equal(edge.statusCode, 200, edge.body);
  });
});
