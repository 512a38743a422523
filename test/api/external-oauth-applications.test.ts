import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { bearer, buildTestApp, json, type TestApp } from '../helpers/app.ts';
import { assertResponse, assertSchema } from '../helpers/contract.ts';

const BASE = '/api/4.0/external_oauth_applications';
const at = (clientId: string) => `${BASE}/${encodeURIComponent(clientId)}`;

let t: TestApp;
let admin: Record<string, string>;
let seq = 0;

/** A valid create body with unique name, client_id and a recognisable secret. */
function newApp(overrides: Record<string, unknown> = {}) {
  seq += 1;
  return { name: `app ${seq}`, client_id: `client-${seq}`, client_secret: `eoa-test-secret-${seq}-${'x'.repeat(8)}`, ...overrides };
}

async function create(body: Record<string, unknown>, headers = admin) {
  return t.inject({ method: 'POST', url: BASE, headers, payload: body });
}

function problemsOf(response: { body: string }) {
  return (json(response as never).errors as Array<{ field: string; code: string }>).map((e) => `${e.field}:${e.code}`).sort();
}

before(async () => {
  t = await buildTestApp();
  admin = bearer(t.adminToken);
});
after(() => t.close());

describe('create_external_oauth_application', () => {
  test('200 with every field, created_at in UTC, can from the role, and no client_secret', async () => {
    const body = newApp({ tenant_id: 'tenant-1', dialect_name: 'snowflake', bi_directional_data_access: true });
    const before = Date.now();
    const response = await create(body);
    assert.equal(response.statusCode, 200);
    assertResponse('create_external_oauth_application', response);
    const app = json(response);
    assert.match(app.id, /^\d+$/);
    assert.equal(app.name, body.name);
    assert.equal(app.client_id, body.client_id);
    assert.equal(app.tenant_id, 'tenant-1');
    assert.equal(app.dialect_name, 'snowflake');
    assert.equal(app.bi_directional_data_access, true);
    assert.deepEqual(app.can, { show: true, index: true, update: true, destroy: true });
    assert.match(app.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    assert.ok(Date.parse(app.created_at) >= before - 1000);
    assert.equal('client_secret' in app, false);
    assert.ok(!response.body.includes(body.client_secret));
  });

  test('optional fields default to null; the name is trimmed', async () => {
    const response = await create(newApp({ name: '  padded name  ' }));
    assert.equal(response.statusCode, 200);
    const app = json(response);
    assert.equal(app.name, 'padded name');
    assert.equal(app.tenant_id, null);
    assert.equal(app.dialect_name, null);
    assert.equal(app.bi_directional_data_access, null);
  });

  test('read-only fields (id, created_at, can) and unknown fields are ignored', async () => {
    const response = await create(newApp({ id: '999999', created_at: '2000-01-01T00:00:00Z', can: { destroy: false }, color: 'blue' }));
    assert.equal(response.statusCode, 200);
    const app = json(response);
    assert.notEqual(app.id, '999999');
    assert.notEqual(app.created_at, '2000-01-01T00:00:00Z');
    assert.equal(app.can.destroy, true);
    assert.equal('color' in app, false);
  });

  test('422 lists every schema and rule problem at once', async () => {
    const response = await create({ name: '   ', client_id: 42, dialect_name: 'Snow-Flake', bi_directional_data_access: 'yes', tenant_id: 7 });
    assert.equal(response.statusCode, 422);
    assertResponse('create_external_oauth_application', response);
    assert.equal(json(response).message, 'Validation Failed');
    assert.deepEqual(problemsOf(response), [
      'bi_directional_data_access:invalid',
      'client_id:invalid',
      'client_secret:missing_field',
      'dialect_name:invalid',
      'name:invalid',
      'tenant_id:invalid',
    ]);
  });

  test('422 for a body with every required field missing, and for over-long values', async () => {
    const empty = await create({});
    assert.equal(empty.statusCode, 422);
    assert.deepEqual(problemsOf(empty), ['client_id:missing_field', 'client_secret:missing_field', 'name:missing_field']);

    const long = await create(newApp({ name: 'n'.repeat(256), client_id: 'c'.repeat(256), client_secret: 's'.repeat(4097) }));
    assert.equal(long.statusCode, 422);
    assertResponse('create_external_oauth_application', long);
    assert.deepEqual(problemsOf(long), ['client_id:invalid', 'client_secret:invalid', 'name:invalid']);

    const blankStrings = await create({ name: '', client_id: '', client_secret: '' });
    assert.deepEqual(problemsOf(blankStrings), ['client_id:invalid', 'client_secret:invalid', 'name:invalid']);
  });

  test('dialect names: lower-case letters, digits and _ only', async () => {
    for (const dialect of ['snowflake', 'databricks', 'bigquery_standard_sql', 'mysql8']) {
      assert.equal((await create(newApp({ dialect_name: dialect }))).statusCode, 200, dialect);
    }
    for (const dialect of ['', 'Snowflake', 'big query', 'a-b', 'snowflake;drop']) {
      const response = await create(newApp({ dialect_name: dialect }));
      assert.equal(response.statusCode, 422, dialect);
      assert.deepEqual(problemsOf(response), ['dialect_name:invalid']);
    }
  });

  test('400 for a body that is not a JSON object, or is not JSON', async () => {
    for (const payload of ['[1,2]', '"text"', '42', 'null']) {
      const response = await t.inject({ method: 'POST', url: BASE, headers: { ...admin, 'content-type': 'application/json' }, payload });
      assert.equal(response.statusCode, 400, payload);
      assertResponse('create_external_oauth_application', response);
    }
    const broken = await t.inject({ method: 'POST', url: BASE, headers: { ...admin, 'content-type': 'application/json' }, payload: '{"name":' });
    assert.equal(broken.statusCode, 400);
    assertResponse('create_external_oauth_application', broken);
  });

  test('413 for a body over the limit; 400 for a body that is not JSON at all', async () => {
    const huge = await create(newApp({ client_secret: 'x'.repeat(2 * 1024 * 1024) }));
    assert.equal(huge.statusCode, 413);
    assertResponse('create_external_oauth_application', huge);
    const text = await t.inject({ method: 'POST', url: BASE, headers: { ...admin, 'content-type': 'text/plain' }, payload: 'name=x' });
    assert.equal(text.statusCode, 400);
    assertResponse('create_external_oauth_application', text);
  });

  test('409 names the taken field: client_id or name', async () => {
    const first = newApp();
    assert.equal((await create(first)).statusCode, 200);

    const sameClientId = await create(newApp({ client_id: first.client_id }));
    assert.equal(sameClientId.statusCode, 409);
    assertResponse('create_external_oauth_application', sameClientId);
    assert.match(json(sameClientId).message, /client_id/);

    const sameName = await create(newApp({ name: first.name }));
    assert.equal(sameName.statusCode, 409);
    assertResponse('create_external_oauth_application', sameName);
    assert.match(json(sameName).message, /name/);
    assert.doesNotMatch(json(sameName).message, /client_id/);

    // Trimming happens before the unique index sees the name.
    assert.equal((await create(newApp({ name: ` ${first.name} ` }))).statusCode, 409);
  });

  test('20 simultaneous creates of one client_id: exactly one 200 and 19 × 409', async () => {
    const clientId = `race-${Date.now()}`;
    const responses = await Promise.all(Array.from({ length: 20 }, (_, i) => create(newApp({ client_id: clientId, name: `race ${clientId} ${i}` }))));
    const statuses = responses.map((r) => r.statusCode).sort();
    assert.deepEqual(statuses, [200, ...Array(19).fill(409)]);
    for (const r of responses.filter((r) => r.statusCode === 409)) {
      assertResponse('create_external_oauth_application', r);
      assert.match(json(r).message, /client_id/);
    }
    const listed = json(await t.inject({ method: 'GET', url: `${BASE}?client_id=${clientId}`, headers: admin }));
    assert.equal(listed.length, 1);
  });
});

describe('all_external_oauth_applications', () => {
  const names: string[] = [];
  before(async () => {
    for (const body of [newApp({ tenant_id: 'list-t' }), newApp({ tenant_id: 'list-t' }), newApp()]) {
      assert.equal((await create(body)).statusCode, 200);
      names.push(body.name);
    }
  });

  test('lists every application in id order, without secrets', async () => {
    const response = await t.inject({ method: 'GET', url: BASE, headers: admin });
    assert.equal(response.statusCode, 200);
    assertResponse('all_external_oauth_applications', response);
    const apps = json(response) as Array<{ id: string; name: string }>;
    const ids = apps.map((a) => Number(a.id));
    assert.deepEqual(ids, [...ids].sort((a, b) => a - b));
    for (const name of names) assert.ok(apps.some((a) => a.name === name));
    assert.doesNotMatch(response.body, /client_secret|eoa-test-secret/);
  });

  test('exact-match filters on name and client_id, combinable; no match gives []', async () => {
    const all = json(await t.inject({ method: 'GET', url: BASE, headers: admin })) as Array<{ name: string; client_id: string }>;
    const target = all.find((a) => a.name === names[1])!;

    const byName = await t.inject({ method: 'GET', url: BASE, query: { name: target.name }, headers: admin });
    assertResponse('all_external_oauth_applications', byName);
    assert.deepEqual(json(byName).map((a: { client_id: string }) => a.client_id), [target.client_id]);

    const byClientId = json(await t.inject({ method: 'GET', url: BASE, query: { client_id: target.client_id }, headers: admin }));
    assert.deepEqual(byClientId.map((a: { name: string }) => a.name), [target.name]);

    const both = json(await t.inject({ method: 'GET', url: BASE, query: { name: target.name, client_id: target.client_id }, headers: admin }));
    assert.equal(both.length, 1);

    const mismatch = json(await t.inject({ method: 'GET', url: BASE, query: { name: target.name, client_id: 'someone-else' }, headers: admin }));
    assert.deepEqual(mismatch, []);

    // Exact, not prefix or pattern.
    const prefix = json(await t.inject({ method: 'GET', url: BASE, query: { name: target.name.slice(0, 3) }, headers: admin }));
    assert.deepEqual(prefix, []);
    const pattern = json(await t.inject({ method: 'GET', url: BASE, query: { name: '%' }, headers: admin }));
    assert.deepEqual(pattern, []);
  });

  test('a filter given twice is a 400, as the spec documents for this operation', async () => {
    const response = await t.inject({ method: 'GET', url: `${BASE}?name=a&name=b`, headers: admin });
    assert.equal(response.statusCode, 400);
    assertResponse('all_external_oauth_applications', response);
    assert.match(json(response).message, /name/);
  });
});

describe('update_external_oauth_application', () => {
  test('partial update keeps what is not sent; rotating the secret changes the sealed value and keeps the previous one', async () => {
    const body = newApp({ tenant_id: 'keep-me', dialect_name: 'databricks', bi_directional_data_access: false });
    const created = json(await create(body));
    const sealedBefore = (await t.app.repos.externalOauthApplications.findByClientId(body.client_id))!.client_secret_sealed;

    const rotated = 'rotated-secret-value-123';
    const response = await t.inject({ method: 'PATCH', url: at(body.client_id), headers: admin, payload: { client_secret: rotated } });
    assert.equal(response.statusCode, 200);
    assertResponse('update_external_oauth_application', response);
    // The replaced secret stays a fallback for EOA_SECRET_OVERLAP_S (7 days by default); nothing else changed.
    const { has_previous_secret: held, previous_secret_expires_at: until, ...rest } = json(response);
    assert.equal(held, true);
    assert.ok(Math.abs(Date.parse(until) - (Date.now() + 7 * 24 * 3600 * 1000)) < 60_000, until);
    assert.deepEqual({ ...rest, has_previous_secret: false, previous_secret_expires_at: null }, created);
    assert.ok(!response.body.includes(rotated));

    const sealedAfter = (await t.app.repos.externalOauthApplications.findByClientId(body.client_id))!.client_secret_sealed;
    assert.notEqual(sealedAfter, sealedBefore);
    assert.equal(await t.app.services.externalOauthApplications.openClientSecret(body.client_id), rotated);
  });

  test('updates name (trimmed), tenant_id, dialect_name and bi_directional_data_access; null clears', async () => {
    const body = newApp({ tenant_id: 't', dialect_name: 'snowflake', bi_directional_data_access: true });
    const created = json(await create(body));
    const response = await t.inject({
      method: 'PATCH',
      url: at(body.client_id),
      headers: admin,
      payload: { name: '  renamed  ', tenant_id: null, dialect_name: 'bigquery_standard_sql', bi_directional_data_access: null, client_id: body.client_id },
    });
    assert.equal(response.statusCode, 200);
    const updated = json(response);
    assert.deepEqual(updated, { ...created, name: 'renamed', tenant_id: null, dialect_name: 'bigquery_standard_sql', bi_directional_data_access: null });
  });

  test('the object as listed can be sent back: read-only fields are ignored', async () => {
    const body = newApp();
    const created = json(await create(body));
    const response = await t.inject({ method: 'PATCH', url: at(body.client_id), headers: admin, payload: { ...created, id: '12345', created_at: '1999-01-01T00:00:00Z' } });
    assert.equal(response.statusCode, 200);
    assert.deepEqual(json(response), created);
  });

  test('404 for an unknown client_id', async () => {
    const response = await t.inject({ method: 'PATCH', url: at('no-such-client'), headers: admin, payload: { client_secret: 'x' } });
    assert.equal(response.statusCode, 404);
    assertResponse('update_external_oauth_application', response);
    assert.equal(json(response).message, 'Not found');
  });

  test('422 merges schema problems with rules, including a body client_id that differs from the path', async () => {
    const body = newApp();
    await create(body);
    const response = await t.inject({
      method: 'PATCH',
      url: at(body.client_id),
      headers: admin,
      payload: { client_id: 'another-client', name: ' ', client_secret: '', dialect_name: 'NOPE', bi_directional_data_access: 1 },
    });
    assert.equal(response.statusCode, 422);
    assertResponse('update_external_oauth_application', response);
    assert.deepEqual(problemsOf(response), ['bi_directional_data_access:invalid', 'client_id:invalid', 'client_secret:invalid', 'dialect_name:invalid', 'name:invalid']);

    const onlyMismatch = await t.inject({ method: 'PATCH', url: at(body.client_id), headers: admin, payload: { client_id: 'another-client' } });
    assert.equal(onlyMismatch.statusCode, 422);
    assert.deepEqual(problemsOf(onlyMismatch), ['client_id:invalid']);
    assert.equal(json(await t.inject({ method: 'GET', url: BASE, query: { client_id: body.client_id }, headers: admin })).length, 1);
  });

  test('409 when renaming onto a taken name', async () => {
    const a = newApp();
    const b = newApp();
    await create(a);
    await create(b);
    const response = await t.inject({ method: 'PATCH', url: at(b.client_id), headers: admin, payload: { name: a.name } });
    assert.equal(response.statusCode, 409);
    // Looker's spec lists no 409 for this operation; the body is still its Error.
    assertSchema('Error', json(response));
    assert.match(json(response).message, /name/);
  });

  test('400 for a body that is not a JSON object', async () => {
    const body = newApp();
    await create(body);
    const response = await t.inject({ method: 'PATCH', url: at(body.client_id), headers: { ...admin, 'content-type': 'application/json' }, payload: '["x"]' });
    assert.equal(response.statusCode, 400);
    assertResponse('update_external_oauth_application', response);
  });
});

describe('path client_id: percent-decoded, any character', () => {
  const awkward = ['team/a b', 'what?now', 'hash#tag', '100% sure', 'a%2Fb', 'dots/../up', ' lead and trail ', 'ünïcødé/✓', 'user_state'];

  for (const clientId of awkward) {
    test(`create, update, filter and delete ${JSON.stringify(clientId)}`, async () => {
      const body = newApp({ client_id: clientId });
      assert.equal((await create(body)).statusCode, 200);

      const listed = await t.inject({ method: 'GET', url: `${BASE}?client_id=${encodeURIComponent(clientId)}`, headers: admin });
      assert.deepEqual(json(listed).map((a: { client_id: string }) => a.client_id), [clientId]);

      const updated = await t.inject({ method: 'PATCH', url: at(clientId), headers: admin, payload: { tenant_id: 'changed', client_id: clientId } });
      assert.equal(updated.statusCode, 200, updated.body);
      assert.equal(json(updated).client_id, clientId);
      assert.equal(json(updated).tenant_id, 'changed');

      const deleted = await t.inject({ method: 'DELETE', url: at(clientId), headers: admin });
      assert.equal(deleted.statusCode, 204);
      assertResponse('delete_external_oauth_application', deleted);
      assert.deepEqual(json(await t.inject({ method: 'GET', url: BASE, query: { client_id: clientId }, headers: admin })), []);
    });
  }

  test('an encoded %2F reaches the handler as / and does not match a differently spelled id', async () => {
    const body = newApp({ client_id: 'x/y' });
    await create(body);
    // Raw, unencoded slash: a different path, so no such route.
    assert.equal((await t.inject({ method: 'DELETE', url: `${BASE}/x/y`, headers: admin })).statusCode, 404);
    assert.equal((await t.inject({ method: 'DELETE', url: `${BASE}/x%252Fy`, headers: admin })).statusCode, 404);
    assert.equal((await t.inject({ method: 'DELETE', url: `${BASE}/x%2Fy`, headers: admin })).statusCode, 204);
  });

  test('a client_id of 255 characters that all need encoding fits the router', async () => {
    const clientId = '/?#% '.repeat(51);
    assert.equal(clientId.length, 255);
    await create(newApp({ client_id: clientId }));
    const response = await t.inject({ method: 'PATCH', url: at(clientId), headers: admin, payload: { tenant_id: 'long' } });
    assert.equal(response.statusCode, 200);
    assert.equal(json(response).client_id, clientId);
  });
});

describe('delete_external_oauth_application', () => {
  test('204 without body or Content-Type; then 404', async () => {
    const body = newApp();
    await create(body);
    const response = await t.inject({ method: 'DELETE', url: at(body.client_id), headers: admin });
    assert.equal(response.statusCode, 204);
    assertResponse('delete_external_oauth_application', response);
    const again = await t.inject({ method: 'DELETE', url: at(body.client_id), headers: admin });
    assert.equal(again.statusCode, 404);
    assertResponse('delete_external_oauth_application', again);
  });

  test("removes the application's user states (and only those) with it", async () => {
    const doomed = json(await create(newApp()));
    const kept = json(await create(newApp()));
    const user = await t.newUser();
    const state = (appId: string, userId: string) => ({
      user_id: userId,
      oauth_application_id: appId,
      access_token: `access-${appId}-${userId}`,
      access_token_expires_at: '2030-01-01T00:00:00Z',
    });
    for (const [appId, userId] of [[doomed.id, '1'], [doomed.id, user.id], [kept.id, user.id]]) {
      const r = await t.inject({ method: 'POST', url: `${BASE}/user_state`, headers: admin, payload: state(appId, userId) });
      assert.equal(r.statusCode, 200, r.body);
    }
    const countFor = async (appId: string) =>
      (await t.app.repos.db.selectFrom('oauth_application_user_states').select('user_id').where('oauth_application_id', '=', appId).execute()).length;
    assert.equal(await countFor(doomed.id), 2);

    assert.equal((await t.inject({ method: 'DELETE', url: at(doomed.client_id), headers: admin })).statusCode, 204);
    assert.equal(await countFor(doomed.id), 0);
    assert.equal(await countFor(kept.id), 1);
    assert.equal(await t.app.services.userStates.openTokens(user.id, doomed.id), null);
  });
});

describe('who may call', () => {
  let user: Awaited<ReturnType<TestApp['newUser']>>;
  let existing: { client_id: string };
  before(async () => {
    user = await t.newUser();
    existing = newApp();
    await create(existing);
  });

  const operations = () => [
    { op: 'create_external_oauth_application', method: 'POST' as const, url: BASE, payload: newApp() },
    { op: 'all_external_oauth_applications', method: 'GET' as const, url: BASE },
    { op: 'update_external_oauth_application', method: 'PATCH' as const, url: at(existing.client_id), payload: { name: 'hijacked' } },
    { op: 'delete_external_oauth_application', method: 'DELETE' as const, url: at(existing.client_id) },
  ];

  test('no token or a bad token: 401 Requires authentication.', async () => {
    for (const { op, ...request } of operations()) {
      for (const headers of [{}, { authorization: 'Bearer not-a-token' }]) {
        const response = await t.inject({ ...request, headers });
        assert.equal(response.statusCode, 401, op);
        assertResponse(op, response);
        assert.equal(json(response).message, 'Requires authentication.');
      }
    }
  });

  test('a non-admin user: 404 Not found, and nothing changes', async () => {
    for (const { op, ...request } of operations()) {
      const response = await t.inject({ ...request, headers: bearer(user.token) });
      assert.equal(response.statusCode, 404, op);
      assertResponse(op, response);
      assert.equal(json(response).message, 'Not found');
    }
    const still = json(await t.inject({ method: 'GET', url: BASE, query: { client_id: existing.client_id }, headers: admin }));
    assert.equal(still.length, 1);
    assert.notEqual(still[0].name, 'hijacked');
  });
});

describe('secrets', () => {
  test('the service opens what it sealed (for the OAuth flow); unknown client_id gives null', async () => {
    const body = newApp({ client_secret: 'round-trip-secret-ü-/?#%' });
    await create(body);
    assert.equal(await t.app.services.externalOauthApplications.openClientSecret(body.client_id), body.client_secret);
    assert.equal(await t.app.services.externalOauthApplications.openClientSecret('nobody-has-this'), null);
  });

  test('a sealed secret copied to another application does not open there', async () => {
    const a = newApp();
    const b = newApp();
    await create(a);
    await create(b);
    const sealedA = (await t.app.repos.externalOauthApplications.findByClientId(a.client_id))!.client_secret_sealed;
    await t.app.repos.db.updateTable('external_oauth_applications').set({ client_secret_sealed: sealedA }).where('client_id', '=', b.client_id).execute();
    await assert.rejects(t.app.services.externalOauthApplications.openClientSecret(b.client_id), /does not authenticate/);
  });

  test('no secret used in this file reached a log line', () => {
    const logs = t.logs.join('');
    assert.ok(logs.length > 0);
    assert.doesNotMatch(logs, /eoa-test-secret|rotated-secret-value|round-trip-secret/);
  });
});
