import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { bearer, buildTestApp, json, type TestApp } from '../helpers/app.ts';
import { assertResponse } from '../helpers/contract.ts';
import { seedApplications } from '../../src/cli/seed.ts';

const BASE = '/api/4.0/external_oauth_applications';

/** More than one streaming page (1000 rows), so paging by key is crossed. */
const COUNT = 2345;

describe('all_external_oauth_applications: limit, offset and the streamed whole list', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp();
    await seedApplications(t.app.store, t.app.secretBox, { count: COUNT, prefix: 'page-' });
  });
  after(() => t.close());

  const list = (query = '') => t.inject({ method: 'GET', url: `${BASE}${query}`, headers: bearer(t.adminToken) });

  test('without parameters: every application, in id order, each exactly once, held to the contract', async () => {
    const response = await list();
    assert.equal(response.statusCode, 200);
    assert.match(String(response.headers['content-type']), /^application\/json/);
    assertResponse('all_external_oauth_applications', response);
    const apps = json(response) as Array<{ id: string; name: string; client_secret?: string }>;
    assert.equal(apps.length, COUNT);
    assert.deepEqual(apps.map((a) => a.name), Array.from({ length: COUNT }, (_, i) => `page-${i + 1}`));
    const ids = apps.map((a) => Number(a.id));
    assert.deepEqual(ids, [...ids].sort((a, b) => a - b));
    assert.ok(apps.every((a) => !('client_secret' in a)));
  });

  test('on SQLite, each later chunk of the streamed list waits for a group commit\'s pending flush, as the first does', { skip: process.env.TEST_DATABASE_URL ? 'the flush off the event loop is SQLite\'s' : false }, async () => {
    const walSync = t.app.store.walSync!;
    const realPending = walSync.pending;
    let calls = 0;
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    // From the second chunk on, a flush is "pending" until released: the stream must stop there.
    walSync.pending = () => ((calls += 1) >= 2 && calls < 4 ? held : null);
    try {
      let finished = false;
      const response = list().then((r) => ((finished = true), r));
      for (let i = 0; i < 200 && calls < 2; i++) await new Promise((resolve) => setImmediate(resolve));
      for (let i = 0; i < 50; i++) await new Promise((resolve) => setImmediate(resolve));
      assert.equal(calls, 2, 'the stream stopped at its second chunk');
      assert.equal(finished, false, 'the response is not complete while the flush is pending');
      release();
      const apps = json(await response) as unknown[];
      assert.equal(apps.length, COUNT);
      assert.ok(calls > 3, `every chunk asked (${calls} chunks)`);
    } finally {
      walSync.pending = realPending;
    }
  });

  test('limit and offset page the list; past the end is []', async () => {
    const all = json(await list()) as Array<{ id: string }>;
    const page = await list('?limit=10&offset=995');
    assert.equal(page.statusCode, 200);
    assertResponse('all_external_oauth_applications', page);
    assert.deepEqual(json(page).map((a: { id: string }) => a.id), all.slice(995, 1005).map((a) => a.id));
    assert.deepEqual(json(await list(`?limit=1500&offset=500`)).map((a: { id: string }) => a.id), all.slice(500, 2000).map((a) => a.id));
    assert.deepEqual(json(await list(`?offset=${COUNT - 3}`)).map((a: { id: string }) => a.id), all.slice(-3).map((a) => a.id));
    assert.deepEqual(json(await list(`?offset=${COUNT}`)), []);
    assert.deepEqual(json(await list('?limit=0')), []);
  });

  test('limit and offset combine with the filters', async () => {
    const one = json(await list('?client_id=page-client-7&limit=5'));
    assert.deepEqual(one.map((a: { name: string }) => a.name), ['page-7']);
    assert.deepEqual(json(await list('?client_id=page-client-7&offset=1')), []);
  });

  test('a malformed limit or offset is a 400 in Looker\'s shape', async () => {
    for (const query of ['?limit=abc', '?offset=-1', '?limit=100001']) {
      const response = await list(query);
      assert.equal(response.statusCode, 400, query);
      assertResponse('all_external_oauth_applications', response);
    }
  });
});
