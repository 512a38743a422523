import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { bearer, buildTestApp, json, type TestApp } from '../helpers/app.ts';
import { assertResponse } from '../helpers/contract.ts';

const BASE = '/api/4.0/external_oauth_applications';

describe('group commit through the API', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp();
  });
  after(() => t.close());

  const create = (name: string, clientId: string) =>
    t.inject({ method: 'POST', url: BASE, headers: bearer(t.adminToken), payload: { name, client_id: clientId, client_secret: `secret-of-${clientId}` } });

  test('creates sent together: the one taking a used client_id gets its 409, the others their own 200', async () => {
    assert.equal((await create('first', 'taken-client')).statusCode, 200);
    const batchesBefore = t.app.services.writes.stats.batches;
    const bodies = [
      ['batch a', 'client-a'],
      ['batch b', 'client-b'],
      ['batch c', 'taken-client'],
      ['batch d', 'client-d'],
      ['batch e', 'client-e'],
    ] as const;
    const responses = await Promise.all(bodies.map(([name, clientId]) => create(name, clientId)));

    if (t.app.store.engine === 'sqlite') {
      assert.equal(t.app.services.writes.stats.batches - batchesBefore, 1, 'the five creates shared one transaction');
    }
    assert.deepEqual(responses.map((r) => r.statusCode), [200, 200, 409, 200, 200]);
    for (const response of responses) assertResponse('create_external_oauth_application', response);
    assert.match(json(responses[2]).message, /client_id/);
    for (const [i, [name, clientId]] of bodies.entries()) {
      if (i === 2) continue;
      const app = json(responses[i]);
      assert.equal(app.name, name, 'each request gets its own application back');
      assert.equal(app.client_id, clientId);
    }
    const listed = json(await t.inject({ method: 'GET', url: `${BASE}?name=${encodeURIComponent('batch c')}`, headers: bearer(t.adminToken) }));
    assert.deepEqual(listed, [], 'the conflicting create stored nothing');
  });

  test('a secret rotation goes through the same path and answers 404 for an unknown client_id', async () => {
    assert.equal((await create('rotating', 'rotating-client')).statusCode, 200);
    const [ok, missing] = await Promise.all([
      t.inject({ method: 'PATCH', url: `${BASE}/rotating-client`, headers: bearer(t.adminToken), payload: { client_secret: 'rotated-secret' } }),
      t.inject({ method: 'PATCH', url: `${BASE}/no-such-client`, headers: bearer(t.adminToken), payload: { client_secret: 'rotated-secret' } }),
    ]);
    assert.equal(ok.statusCode, 200);
    assert.equal(missing.statusCode, 404);
    assert.equal(await t.app.services.externalOauthApplications.openClientSecret('rotating-client'), 'rotated-secret');
  });

  test('user states sent together share a batch; each is stored with its own tokens', async () => {
    const apps = await Promise.all(['state-a', 'state-b', 'state-c'].map((c) => create(c, c)));
    const ids = apps.map((r) => json(r).id as string);
    const batchesBefore = t.app.services.writes.stats.batches;
    const responses = await Promise.all(
      ids.map((id) =>
        t.inject({
          method: 'POST',
          url: `${BASE}/user_state`,
          headers: bearer(t.adminToken),
          payload: { user_id: '1', oauth_application_id: id, access_token: `access-${id}`, access_token_expires_at: '2030-01-01T00:00:00Z' },
        }),
      ),
    );
    assert.deepEqual(responses.map((r) => r.statusCode), [200, 200, 200]);
    for (const response of responses) assertResponse('create_oauth_application_user_state', response);
    if (t.app.store.engine === 'sqlite') {
      assert.equal(t.app.services.writes.stats.batches - batchesBefore, 1, 'the three writes shared one transaction');
    }
    for (const id of ids) {
      assert.equal((await t.app.services.userStates.openTokens('1', id))?.access_token, `access-${id}`);
    }
  });
});
