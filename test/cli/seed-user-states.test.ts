import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { bearer, buildTestApp, json, type TestApp } from '../helpers/app.ts';
import { seedApplications } from '../../src/cli/seed.ts';
import { applicationIdsAfter, lastApplicationId, seedUserStates } from '../../src/cli/seed-user-states.ts';

const BASE = '/api/4.0/external_oauth_applications';

describe('seed --user-states: users and sealed tokens the service reads like its own', () => {
  let t: TestApp;
  let userIds: string[];
  before(async () => {
    t = await buildTestApp();
    const last = await lastApplicationId(t.app.store);
    await seedApplications(t.app.store, t.app.secretBox, { count: 30, prefix: 'us-' });
    const applicationIds = await applicationIdsAfter(t.app.store, last);
    assert.equal(applicationIds.length, 30);
    userIds = await seedUserStates(t.app.store, t.app.secretBox, { count: 95, applicationIds, prefix: 'us-' });
  });
  after(() => t.close());

  test('count / 10 users, each with 10 states; the first application is every user\'s', async () => {
    assert.equal(userIds.length, 10);
    const shared = json(await t.inject({ method: 'GET', url: `${BASE}/us-client-1/user_states?limit=100`, headers: bearer(t.adminToken) }));
    assert.deepEqual(shared.map((s: { user_id: string }) => s.user_id), userIds);
    assert.ok(shared.every((s: { status: string; has_refresh_token: boolean }) => s.status === 'active' && s.has_refresh_token));
    const rows = await t.app.store.db.selectFrom('oauth_application_user_states').select(['user_id', 'oauth_application_id']).execute();
    assert.equal(rows.length, 95);
    assert.equal(new Set(rows.map((r) => `${r.user_id}:${r.oauth_application_id}`)).size, 95);
  });

  test('a seeded token opens through the access_token route: sealed under the row\'s own additional data', async () => {
    const state = await t.app.store.db
      .selectFrom('oauth_application_user_states as s')
      .innerJoin('external_oauth_applications as a', 'a.id', 's.oauth_application_id')
      .select(['s.user_id', 'a.client_id', 's.access_token_sealed'])
      .where('s.user_id', '=', userIds[9])
      .orderBy('a.id', 'desc')
      .executeTakeFirstOrThrow();
    const response = await t.inject({
      method: 'POST',
      url: `${BASE}/${state.client_id}/access_token`,
      headers: bearer(t.adminToken),
      payload: { user_id: String(state.user_id) },
    });
    assert.equal(response.statusCode, 200);
    const body = json(response);
    assert.match(body.access_token, /^[A-Za-z0-9_-]{43}$/);
    assert.ok(!state.access_token_sealed.includes(body.access_token));
    assert.ok(Date.parse(body.expires_at) > Date.now() + 24 * 3600 * 1000);
  });
});
