import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { bearer, buildTestApp, json, type TestApp } from '../helpers/app.ts';
import { assertResponse, assertSchema } from '../helpers/contract.ts';
import { storeDigest } from '../reliability/support.ts';

/**
 * Text that is not Unicode (a lone UTF-16 surrogate, which JSON's `\ud800` escape can spell) or that one
 * engine cannot store (U+0000) is refused wherever a request carries it: body values and keys at any
 * depth (422 naming the field), path parameters (404), query names and values (400), and so are bytes
 * that are not UTF-8 (a JSON body: 400; a percent-encoded path or query: 404 / 400). Nothing is stored.
 * Runs on SQLite, and on PostgreSQL with TEST_DATABASE_URL. The fuzz suite (test/fuzz/text-and-resets)
 * covers every route; these are the cases the issue names.
 */
describe('strings that are not text', () => {
  let t: TestApp;
  let auth: Record<string, string>;
  before(async () => {
    t = await buildTestApp();
    auth = { ...bearer(t.adminToken), 'content-type': 'application/json' };
  });
  after(() => t.close());

  const raw = (method: 'POST' | 'PATCH' | 'PUT', url: string, text: string) => t.inject({ method, url, headers: auth, payload: text });

  test('a lone surrogate in a body value is a 422 naming the field, and nothing is stored (issue 10 #3)', async () => {
    const before = await storeDigest(t.app.store.db);
    const response = await raw('POST', '/api/4.0/external_oauth_applications', '{"name":"lone","client_id":"\\ud800","client_secret":"s3cret-value"}');
    assert.equal(response.statusCode, 422, response.body);
    assertResponse('create_external_oauth_application', response);
    assert.deepEqual(
      json(response).errors.map((e: { field: string; code: string }) => [e.field, e.code]),
      [['client_id', 'invalid']],
    );
    assert.match(json(response).errors[0].message, /surrogate/);
    assert.equal(await storeDigest(t.app.store.db), before);
    const list = await t.inject({ method: 'GET', url: '/api/4.0/external_oauth_applications', headers: auth });
    assert.deepEqual(json(list), []);
  });

  test('a low surrogate alone, and one at the end of a string, are refused too; a surrogate pair is text', async () => {
    for (const value of ['\\udc00', 'abc\\ud83d', '\\ude00abc', '\\ud83d\\ud83d\\ude00x']) {
      const response = await raw('POST', '/api/4.0/users', `{"first_name":"${value}"}`);
      assert.equal(response.statusCode, 422, value);
      assert.deepEqual(json(response).errors.map((e: { field: string }) => e.field), ['first_name'], value);
    }
    const pair = await raw('POST', '/api/4.0/users', '{"first_name":"\\ud83d\\ude00"}');
    assert.equal(pair.statusCode, 200);
    assert.equal(json(pair).first_name, '😀');
  });

  test('at any depth and in keys, on every route: an ignored field is refused too', async () => {
    const response = await raw(
      'POST',
      '/api/4.0/external_oauth_applications',
      '{"name":"deep","client_id":"deep","client_secret":"s3cret-value","extra":{"list":["ok","\\ud800"]},"\\udfffkey":1}',
    );
    assert.equal(response.statusCode, 422);
    assert.deepEqual(json(response).errors.map((e: { field: string }) => e.field), ['extra.list.1', '\ufffdkey']);

    const roles = await raw('PUT', '/api/4.0/users/1/roles', '["1","\\ud800"]');
    assert.equal(roles.statusCode, 422);
    assert.deepEqual(json(roles).errors.map((e: { field: string }) => e.field), ['1']);

    const state = await raw(
      'POST',
      '/api/4.0/external_oauth_applications/user_state',
      '{"user_id":"1","oauth_application_id":"1","access_token":"tok\\ud800","access_token_expires_at":"2030-01-01T00:00:00Z"}',
    );
    assert.equal(state.statusCode, 422);
    assert.deepEqual(json(state).errors.map((e: { field: string }) => e.field), ['access_token']);
  });

  test('in a path parameter: 404, the application is not touched', async () => {
    const created = await raw('POST', '/api/4.0/external_oauth_applications', '{"name":"kept","client_id":"kept","client_secret":"s3cret-value"}');
    assert.equal(created.statusCode, 200);
    for (const segment of ['%ED%A0%80', '%ED%B0%80', '%FF', 'kept%00', '\ud800']) {
      const response = await t.inject({ method: 'DELETE', url: `/api/4.0/external_oauth_applications/${segment}`, headers: auth });
      assert.equal(response.statusCode, 404, segment);
      assertSchema('Error', json(response));
    }
    const list = await t.inject({ method: 'GET', url: '/api/4.0/external_oauth_applications?client_id=kept', headers: auth });
    assert.equal(json(list).length, 1);
  });

  test('in a query string name or value, or undecodable there: 400 naming the parameter', async () => {
    for (const query of ['client_id=%ED%A0%80', 'client_id=%FF', 'name=a%00', '%ED%A0%80=x', 'client_id=%E0%A4%A']) {
      const response = await t.inject({ method: 'GET', url: `/api/4.0/external_oauth_applications?${query}`, headers: auth });
      assert.equal(response.statusCode, 400, query);
      assertResponse('all_external_oauth_applications', response);
      assert.match(json(response).message, /^Invalid query string\./, query);
    }
    const fine = await t.inject({ method: 'GET', url: '/api/4.0/external_oauth_applications?client_id=%F0%9F%98%80%25FF', headers: auth });
    assert.equal(fine.statusCode, 200);
  });

  test('a JSON body whose bytes are not UTF-8 is a 400, not text with U+FFFD in it', async () => {
    const before = await storeDigest(t.app.store.db);
    const body = Buffer.concat([Buffer.from('{"name":"b","client_id":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('","client_secret":"s3cret-value"}')]);
    const response = await t.inject({ method: 'POST', url: '/api/4.0/external_oauth_applications', headers: auth, payload: body });
    assert.equal(response.statusCode, 400);
    assertResponse('create_external_oauth_application', response);
    assert.equal(json(response).message, 'The request body is not valid UTF-8.');
    assert.equal(await storeDigest(t.app.store.db), before);
  });
});
