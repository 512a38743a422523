import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { bearer, buildTestApp, json, type TestApp } from '../helpers/app.ts';
import { assertResponse, assertSchema } from '../helpers/contract.ts';
import { memoryCounters } from '../../src/counters/memory.ts';

const WINDOW_S = 60;

function assertRateHeaders(response: { headers: Record<string, unknown> }, limit: number, remaining: number) {
  assert.equal(response.headers['x-ratelimit-limit'], String(limit));
  assert.equal(response.headers['x-ratelimit-remaining'], String(remaining));
  const reset = Number(response.headers['x-ratelimit-reset']);
  assert.ok(Number.isInteger(reset) && reset >= 1 && reset <= WINDOW_S, `x-ratelimit-reset ${reset}`);
}

describe('in-process counters', () => {
  test('a fixed window counts hits, then starts over when it ends', async () => {
    let now = 1_000_000;
    const counters = memoryCounters({ now: () => now });
    assert.deepEqual(await counters.hit('k', 10_000), { count: 1, resetMs: 10_000 });
    now += 4000;
    assert.deepEqual(await counters.hit('k', 10_000), { count: 2, resetMs: 6000 });
    assert.deepEqual(await counters.hit('other', 10_000), { count: 1, resetMs: 10_000 });
    now += 6000;
    assert.deepEqual(await counters.hit('k', 10_000), { count: 1, resetMs: 10_000 });
  });

  test('undo takes back a hit in a running window and is a no-op after it', async () => {
    let now = 0;
    const counters = memoryCounters({ now: () => now });
    await counters.hit('k', 1000);
    await counters.hit('k', 1000);
    await counters.undo('k');
    assert.equal((await counters.hit('k', 1000)).count, 2);
    now += 1000;
    await counters.undo('k');
    assert.equal((await counters.hit('k', 1000)).count, 1);
  });

  test('the number of keys is bounded: the oldest window goes first', async () => {
    const counters = memoryCounters({ maxKeys: 3 });
    for (const key of ['a', 'b', 'c']) await counters.hit(key, 60_000);
    await counters.hit('a', 60_000);
    await counters.hit('d', 60_000);
    assert.equal((await counters.hit('a', 60_000)).count, 1, 'a, the oldest, was dropped to make room for d');
    assert.equal((await counters.hit('d', 60_000)).count, 2);
  });
});

describe('per-caller rate limit', () => {
  const MAX = 10;
  let t: TestApp;
  let user: Awaited<ReturnType<TestApp['newUser']>>;
  before(async () => {
    t = await buildTestApp({ EOA_RATE_LIMIT_MAX: String(MAX), EOA_RATE_LIMIT_WINDOW_S: String(WINDOW_S) });
    user = await t.newUser();
  });
  after(() => t.close());

  test('a burst beyond the limit gets 429 with Retry-After and Looker’s Error body; other users are unaffected', async () => {
    const first = await t.inject({ method: 'GET', url: '/api/4.0/user', headers: bearer(t.adminToken) });
    assert.equal(first.statusCode, 200);
    let remaining = Number(first.headers['x-ratelimit-remaining']);
    assert.ok(remaining < MAX - 1, 'newUser() spent some of the admin’s requests');
    while (remaining > 0) {
      const response = await t.inject({ method: 'GET', url: '/api/4.0/user', headers: bearer(t.adminToken) });
      assert.equal(response.statusCode, 200);
      assertRateHeaders(response, MAX, remaining - 1);
      remaining -= 1;
    }

    const limited = await t.inject({ method: 'GET', url: '/api/4.0/user', headers: bearer(t.adminToken) });
    assert.equal(limited.statusCode, 429);
    assertResponse('me', limited);
    assertSchema('Error', json(limited));
    assert.equal(json(limited).message, 'Too Many Requests');
    assert.match(json(limited).documentation_url, /\/docs\/errors#429$/);
    assertRateHeaders(limited, MAX, 0);
    const retryAfter = Number(limited.headers['retry-after']);
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= WINDOW_S, `Retry-After ${retryAfter}`);

    // Another route is the same caller: still limited, with that route's own documented 429.
    const other = await t.inject({ method: 'GET', url: '/api/4.0/roles', headers: bearer(t.adminToken) });
    assert.equal(other.statusCode, 429);
    assertResponse('all_roles', other);

    // The limit is per user, not per address: the other user (same address) has the whole allowance.
    const mine = await t.inject({ method: 'GET', url: '/api/4.0/user', headers: bearer(user.token) });
    assert.equal(mine.statusCode, 200);
    assertRateHeaders(mine, MAX, MAX - 1);
  });

  test('without a token, requests count against the client address', async () => {
    const from = (remoteAddress: string) => t.inject({ method: 'GET', url: '/versions', remoteAddress });
    for (let i = 1; i <= MAX; i++) {
      const response = await from('198.51.100.7');
      assert.equal(response.statusCode, 200);
      assertRateHeaders(response, MAX, MAX - i);
    }
    const limited = await from('198.51.100.7');
    assert.equal(limited.statusCode, 429);
    assertSchema('Error', json(limited));
    assert.ok(Number(limited.headers['retry-after']) >= 1);

    const neighbour = await from('198.51.100.8');
    assert.equal(neighbour.statusCode, 200);
    assertRateHeaders(neighbour, MAX, MAX - 1);

    // Unknown paths count too (a scan is requests like any other), and get Looker's 429 once over.
    const unknown = await t.inject({ method: 'GET', url: '/no/such/path', remoteAddress: '198.51.100.7' });
    assert.equal(unknown.statusCode, 429);
  });

  test('health probes are never limited and carry no rate-limit headers', async () => {
    for (let i = 0; i < MAX + 2; i++) {
      const response = await t.inject({ method: 'GET', url: '/healthz', remoteAddress: '198.51.100.9' });
      assert.equal(response.statusCode, 200);
      assert.equal(response.headers['x-ratelimit-limit'], undefined);
    }
    // The probes spent nothing of that address's allowance.
    const response = await t.inject({ method: 'GET', url: '/versions', remoteAddress: '198.51.100.9' });
    assertRateHeaders(response, MAX, MAX - 1);
  });
});

describe('EOA_RATE_LIMIT_MAX=0', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp({ EOA_RATE_LIMIT_MAX: '0' });
  });
  after(() => t.close());

  test('turns the limit off: no headers, no 429', async () => {
    for (let i = 0; i < 50; i++) {
      const response = await t.inject({ method: 'GET', url: '/api/4.0/user', headers: bearer(t.adminToken) });
      assert.equal(response.statusCode, 200);
      assert.equal(response.headers['x-ratelimit-limit'], undefined);
      assert.equal(response.headers['x-ratelimit-remaining'], undefined);
    }
  });
});
