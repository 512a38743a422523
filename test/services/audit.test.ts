import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { FailedLoginTally, decodeCursor, encodeCursor } from '../../src/services/audit.ts';
import { ADMIN, bearer, buildTestApp, json, testConfig } from '../helpers/app.ts';
import { assertResponse } from '../helpers/contract.ts';
import { openStore } from '../../src/store/database.ts';

describe('failed-login tally', () => {
  test('per client_id: the first N individually, the rest counted; a new window starts over', () => {
    const tally = new FailedLoginTally(2, 1000);
    const outcomes = [0, 10, 20, 30].map((ms) => tally.fail('7', ms));
    assert.deepEqual(outcomes.map((o) => o.individual), [true, true, false, false]);
    assert.deepEqual(tally.fail('8', 40).individual, true, 'another client_id has its own count');
    assert.deepEqual(tally.drain(500, false), [], 'windows still open are kept');
    // The next failure of client_id 7 after its window closes that window with a summary and starts a new one.
    const next = tally.fail('7', 1000);
    assert.deepEqual(next, { individual: true, summaries: [{ credentialsId: '7', count: 2 }] });
    assert.deepEqual(tally.drain(1040, false), [], 'client_id 8 had nothing beyond its individual events');
    tally.fail('7', 1001);
    tally.fail('7', 1002);
    assert.deepEqual(tally.drain(1003, true), [{ credentialsId: '7', count: 1 }]);
    assert.deepEqual(tally.drain(5000, true), []);
  });

  test('unknown client_ids share one tally', () => {
    const tally = new FailedLoginTally(1, 1000);
    assert.equal(tally.fail(null, 0).individual, true);
    assert.equal(tally.fail(null, 1).individual, false);
    assert.deepEqual(tally.drain(2000, false), [{ credentialsId: null, count: 1 }]);
  });
});

test('cursors: opaque, and only ours decode', () => {
  assert.equal(decodeCursor(encodeCursor('42')), '42');
  assert.doesNotMatch(encodeCursor('42'), /42/);
  for (const bad of ['', '42', 'bm9wZQ', Buffer.from('a1:-1').toString('base64url'), Buffer.from('a1:1 or 1=1').toString('base64url')]) {
    assert.equal(decodeCursor(bad), null, bad);
  }
});

test('retention: events older than EOA_AUDIT_RETENTION_DAYS are purged in bounded batches, newer ones kept; 0 keeps all', async () => {
  const t = await buildTestApp({ EOA_AUDIT_RETENTION_DAYS: '30' });
  const forever = await buildTestApp({ EOA_AUDIT_RETENTION_DAYS: '0' });
  try {
    for (const app of [t.app, forever.app]) {
      const day = 86_400_000;
      const old = Array.from({ length: 2500 }, (_, i) => ({
        occurred_at: new Date(Date.now() - 31 * day - i * 1000).toISOString(),
        actor_user_id: '1',
        principal_user_id: '1',
        address: '127.0.0.1',
        request_id: `old-${i}`,
        action: 'user.update',
        target_type: 'user',
        target_id: '1',
        outcome: 'success',
        detail: null,
      }));
      for (let i = 0; i < old.length; i += 500) await app.store.db.insertInto('audit_events').values(old.slice(i, i + 500)).execute();
    }
    const count = async (app: typeof t.app) =>
      Number((await app.store.db.selectFrom('audit_events').select((eb) => eb.fn.countAll<string | number>().as('n')).executeTakeFirstOrThrow()).n);
    const recent = (await count(t.app)) - 2500;
    const recentForever = (await count(forever.app)) - 2500;
    assert.ok(recent > 0, 'the bootstrap and login events are recent');
    assert.equal(await t.app.services.audit.purgeExpired(), 2500);
    assert.equal(await count(t.app), recent);
    assert.equal(await t.app.services.audit.purgeExpired(), 0);
    assert.equal(await forever.app.services.audit.purgeExpired(), 0);
    assert.equal(await count(forever.app), recentForever + 2500);
  } finally {
    await t.close();
    await forever.close();
  }
});

test('stopping the service writes the summaries of failed-login windows still open', async () => {
  const config = await testConfig({ EOA_LOGIN_GUARD_MAX: '1000' });
  const t = await buildTestApp({}, config);
  for (let i = 0; i < 8; i += 1) {
    const response = await t.inject({ method: 'POST', url: '/api/4.0/login', payload: { client_id: ADMIN.client_id, client_secret: 'not-the-admin-secret' } });
    assert.equal(response.statusCode, 404);
  }
  await t.close();
  const store = openStore(config);
  try {
    const rows = await store.db.selectFrom('audit_events').select(['action', 'outcome', 'detail']).where('outcome', '=', 'failure').orderBy('id').execute();
    assert.deepEqual(rows.map((r) => r.action), [...Array(5).fill('session.login'), 'session.login_failures']);
    assert.deepEqual(JSON.parse(rows[5].detail!), { count: 3, window_s: 60 });
  } finally {
    await store.close();
  }
});

test('a page larger than one query is streamed in order and its cursor continues exactly after it', async () => {
  const t = await buildTestApp();
  try {
    const rows = Array.from({ length: 1300 }, (_, i) => ({
      occurred_at: new Date(Date.now() - 3600_000 + i).toISOString(),
      actor_user_id: '1',
      principal_user_id: '1',
      address: '127.0.0.1',
      request_id: `bulk-${i}`,
      action: 'user.update',
      target_type: 'user',
      target_id: '1',
      outcome: 'success',
      detail: JSON.stringify({ fields: ['first_name'] }),
    }));
    for (let i = 0; i < rows.length; i += 500) await t.app.store.db.insertInto('audit_events').values(rows.slice(i, i + 500)).execute();
    const get = async (query: string) => {
      const response = await t.inject({ method: 'GET', url: `/api/4.0/audit_events?action=user.update&${query}`, headers: bearer(t.adminToken) });
      assert.equal(response.statusCode, 200, response.body);
      assertResponse('all_audit_events', response);
      return json(response) as { events: Array<{ id: string; request_id: string }>; next_cursor: string | null };
    };
    const first = await get('limit=1100');
    assert.equal(first.events.length, 1100);
    assert.deepEqual(first.events.slice(0, 2).map((e) => e.request_id), ['bulk-1299', 'bulk-1298']);
    assert.ok(first.next_cursor);
    const second = await get(`limit=1100&cursor=${first.next_cursor}`);
    assert.deepEqual(second.events.map((e) => e.request_id), rows.slice(0, 200).map((r) => r.request_id).reverse());
    assert.equal(second.next_cursor, null);
    const exact = await get('limit=1300');
    assert.equal(exact.events.length, 1300);
    assert.equal(exact.next_cursor, null, 'a page that ends exactly at the last event says so');
  } finally {
    await t.close();
  }
});
