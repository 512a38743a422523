import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { bearer, buildTestApp, json, type TestApp } from '../helpers/app.ts';
import { assertSchema } from '../helpers/contract.ts';
import { unavailability } from '../../src/store/availability.ts';

/**
 * A store that cannot grow answers writes with 503 and Retry-After (unavailable, not broken), logs the
 * real cause, and takes writes again once it can grow, without a restart. SQLite's max_page_count gives
 * the same SQLITE_FULL as a full disk; the real full disk is test/reliability/full-disk.test.ts.
 */
const SQLITE_ONLY = process.env.TEST_DATABASE_URL ? 'SQLite only: PostgreSQL cannot be made to run out of space here' : false;

describe('a store out of space', () => {
  let t: TestApp;
  before(async () => {
    if (SQLITE_ONLY) return;
    t = await buildTestApp();
  });
  after(() => t?.close());

  let serial = 0;
  const create = () =>
    t.inject({
      method: 'POST',
      url: '/api/4.0/external_oauth_applications',
      headers: bearer(t.adminToken),
      payload: { name: `full ${++serial}`, client_id: `full-${serial}`, client_secret: `full-secret-${serial}-${'x'.repeat(2000)}` },
    });
  const pages = async () => (await sql<{ page_count: number }>`pragma page_count`.execute(t.app.store.db)).rows[0].page_count;

  test('creates answer 503 with Retry-After in Looker\'s shape, the log names SQLITE_FULL, and creates work again once there is room', { skip: SQLITE_ONLY }, async () => {
    await sql.raw(`pragma max_page_count = ${await pages()}`).execute(t.app.store.db);
    let response = await create();
    for (let i = 0; i < 50 && response.statusCode === 200; i++) response = await create();
    assert.equal(response.statusCode, 503, response.body);
    assert.match(String(response.headers['retry-after']), /^\d+$/);
    assertSchema('Error', json(response));
    assert.equal(json(response).message, 'Service Unavailable');
    const logged = t.logs.join('');
    assert.match(logged, /SQLITE_FULL/, 'the real error is logged');
    assert.doesNotMatch(logged, /cannot rollback/);
    assert.ok(t.app.writeHealth.outOfSpaceSince, 'writes are known to fail');

    // Reads keep working.
    assert.equal((await t.inject({ method: 'GET', url: '/api/4.0/external_oauth_applications', headers: bearer(t.adminToken) })).statusCode, 200);

    await sql.raw('pragma max_page_count = 1073741823').execute(t.app.store.db);
    assert.equal((await t.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);
    assert.equal(t.app.writeHealth.outOfSpaceSince, null, 'a write succeeded again');
    assert.equal((await create()).statusCode, 200);
  });

  test('which errors are the store being unavailable', () => {
    const coded = (code: string, message = 'x') => Object.assign(new Error(message), { code });
    assert.equal(unavailability(coded('SQLITE_FULL')), 'out_of_space');
    assert.equal(unavailability(coded('53100')), 'out_of_space');
    assert.equal(unavailability(coded('57P01')), 'unreachable');
    assert.equal(unavailability(coded('ECONNREFUSED')), 'unreachable');
    assert.equal(unavailability(new Error('Connection terminated unexpectedly')), 'unreachable');
    assert.equal(unavailability(coded('SQLITE_CONSTRAINT_UNIQUE')), null);
    assert.equal(unavailability(coded('23505')), null);
    assert.equal(unavailability('SQLITE_FULL'), null);
  });
});
