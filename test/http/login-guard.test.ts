import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN, buildTestApp, json, type TestApp } from '../helpers/app.ts';
import { assertResponse, assertSchema } from '../helpers/contract.ts';
import { memoryCounters } from '../../src/counters/memory.ts';
import { loginGuard } from '../../src/http/login-guard.ts';
import { clientAddressKey } from '../../src/http/client-address.ts';

const MAX = 3;
const WINDOW_S = 60;

function login(body: Record<string, string>, remoteAddress: string) {
  return {
    method: 'POST' as const,
    url: '/api/4.0/login',
    remoteAddress,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams(body).toString(),
  };
}

const wrong = (client_id = ADMIN.client_id) => ({ client_id, client_secret: 'not-the-secret' });

describe('login guard, the rule', () => {
  test('refuses once the failures reach the limit, until the window ends', async () => {
    let now = 0;
    const guard = loginGuard(memoryCounters({ now: () => now }), { max: MAX, windowS: WINDOW_S });
    const keys = { address: 'ip:a' };
    for (let i = 0; i < MAX; i++) assert.equal(await guard.begin(keys), null, `attempt ${i + 1} is let through`);
    now += 15_000;
    assert.deepEqual(await guard.begin(keys), { retryAfterS: 45 });
    assert.deepEqual(await guard.begin(keys), { retryAfterS: 45 }, 'refused attempts do not extend the block');
    now += 45_000;
    assert.equal(await guard.begin(keys), null, 'a new window lets attempts through again');
  });

  test('an attempt taken back (a success) does not count', async () => {
    const guard = loginGuard(memoryCounters(), { max: MAX, windowS: WINDOW_S });
    const keys = { address: 'ip:a', pair: 'ip:a|x', client: 'client:x' };
    for (let i = 0; i < MAX * 5; i++) {
      assert.equal(await guard.begin(keys), null);
      await guard.takeBack(keys);
    }
  });

  test('a client_id failing from many addresses never refuses a fresh address; it cuts each address to one failure', async () => {
    const guard = loginGuard(memoryCounters(), { max: MAX, windowS: WINDOW_S });
    const from = (address: string) => ({ address: `ip:${address}`, pair: `ip:${address}|x`, client: 'client:x' });
    // Failures spread over many addresses, each under the per-address limit, push the client_id far past it...
    for (let i = 0; i < MAX * 10; i++) assert.equal(await guard.begin(from(`spread-${i}`)), null, `address ${i} has its first try`);
    // ...yet an address that has not failed is let through (the owner's correct secret logs in)...
    assert.equal(await guard.begin(from('owner')), null);
    await guard.takeBack(from('owner'));
    assert.equal(await guard.begin(from('owner')), null, 'and again, as its success was taken back');
    // ...while an address that has failed once for this client_id gets no second guess in the window.
    assert.ok(await guard.begin(from('spread-0')));
    // The same address still has its usual allowance for other client_ids.
    assert.equal(await guard.begin({ address: 'ip:spread-0', pair: 'ip:spread-0|y', client: 'client:y' }), null);
  });
});

describe('client address key', () => {
  test('IPv4 is the address; IPv6 is its /64; an IPv4-mapped address is the IPv4 address', () => {
    assert.equal(clientAddressKey('192.0.2.1'), '192.0.2.1');
    assert.equal(clientAddressKey('::ffff:192.0.2.1'), '192.0.2.1');
    assert.equal(clientAddressKey('2001:db8:a:b:1:2:3:4'), '2001:db8:a:b::/64');
    assert.equal(clientAddressKey('2001:0DB8:000a:000b::9'), '2001:db8:a:b::/64');
    assert.equal(clientAddressKey('2001:db8::1'), '2001:db8:0:0::/64');
    assert.notEqual(clientAddressKey('2001:db8:a:c::1'), clientAddressKey('2001:db8:a:b::1'));
  });
});

describe('login guard on POST /login', () => {
  let t: TestApp;
  before(async () => {
    // Rate limits off (the test default): the guard is on regardless.
    t = await buildTestApp({ EOA_LOGIN_GUARD_MAX: String(MAX), EOA_LOGIN_GUARD_WINDOW_S: String(WINDOW_S) });
  });
  after(() => t.close());

  test('trips an address after the configured number of failures, a correct secret too; the owner elsewhere still logs in', async () => {
    const address = '203.0.113.1';
    for (let i = 0; i < MAX; i++) {
      const response = await t.inject(login(wrong(), address));
      assert.equal(response.statusCode, 404, `failure ${i + 1} is an ordinary wrong login`);
    }
    const refused = await t.inject(login(wrong(), address));
    assert.equal(refused.statusCode, 429);
    assertResponse('login', refused);
    assertSchema('Error', json(refused));
    const retryAfter = Number(refused.headers['retry-after']);
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= WINDOW_S, `Retry-After ${retryAfter}`);

    const correct = await t.inject(login(ADMIN, address));
    assert.equal(correct.statusCode, 429, 'a correct secret cannot be confirmed from the address that guessed');
    assert.equal(json(correct).access_token, undefined);

    // Issue 10, defect 10: failures from one address locked the owner out everywhere. The right secret from
    // an address that has not failed logs in...
    const elsewhere = await t.inject(login(ADMIN, '203.0.113.2'));
    assert.equal(elsewhere.statusCode, 200);
    assert.ok(json(elsewhere).access_token);
    // ...while guessing there is cut short: the client_id is past the limit, so one failure per address...
    assert.equal((await t.inject(login(wrong(), '203.0.113.2'))).statusCode, 404);
    assert.equal((await t.inject(login(wrong(), '203.0.113.2'))).statusCode, 429);
    assert.equal((await t.inject(login(ADMIN, '203.0.113.2'))).statusCode, 429, 'not even the right secret after a failure there');
    // ...and another client_id from that address logs in.
    const user = await t.newUser();
    const other = await t.inject(login({ client_id: user.client_id, client_secret: user.client_secret }, '203.0.113.2'));
    assert.equal(other.statusCode, 200);
  });

  test('failures for many client_ids from one address trip the address', async () => {
    const address = '203.0.113.3';
    for (let i = 0; i < MAX; i++) assert.equal((await t.inject(login(wrong(`guess-${i}`), address))).statusCode, 404);
    assert.equal((await t.inject(login(wrong('guess-next'), address))).statusCode, 429);
    // Missing credentials are a failed attempt as well, counted against the address.
    assert.equal((await t.inject(login({}, address))).statusCode, 429);
  });

  test('a success does not reset the count of another address, nor its own', async () => {
    const user = await t.newUser();
    const creds = { client_id: user.client_id, client_secret: user.client_secret };
    const a = '203.0.113.4';
    const b = '203.0.113.5';
    assert.equal((await t.inject(login(wrong('a-1'), a))).statusCode, 404);
    assert.equal((await t.inject(login(wrong('a-2'), a))).statusCode, 404);
    for (let i = 0; i < 3; i++) assert.equal((await t.inject(login(creds, b))).statusCode, 200);
    assert.equal((await t.inject(login(creds, a))).statusCode, 200);
    assert.equal((await t.inject(login(wrong('a-3'), a))).statusCode, 404);
    assert.equal((await t.inject(login(wrong('a-4'), a))).statusCode, 429, 'the two failures before the successes still count');
  });

  test('client_id is counted wherever login reads it from: form body, JSON body, query string', async () => {
    const clientId = 'three-ways';
    const attempts = [
      login(wrong(clientId), '203.0.113.21'),
      { method: 'POST' as const, url: '/api/4.0/login', remoteAddress: '203.0.113.22', payload: wrong(clientId) },
      { method: 'POST' as const, url: `/api/4.0/login?client_id=${clientId}&client_secret=nope`, remoteAddress: '203.0.113.23' },
    ];
    for (const attempt of attempts) assert.equal((await t.inject(attempt)).statusCode, 404);
    // Those three put the client_id at the limit: a fresh address has its one try, a second failure is refused.
    assert.equal((await t.inject(login(wrong(clientId), '203.0.113.24'))).statusCode, 404);
    assert.equal((await t.inject(login(wrong(clientId), '203.0.113.21'))).statusCode, 429);
  });

  test('an IPv6 client counts by its /64: a fresh address in the same network buys no fresh attempts', async () => {
    for (let i = 1; i <= MAX; i++) assert.equal((await t.inject(login(wrong(`v6-${i}`), `2001:db8:1:2::${i}`))).statusCode, 404);
    assert.equal((await t.inject(login(wrong('v6-next'), '2001:db8:1:2:ffff::99'))).statusCode, 429);
    assert.equal((await t.inject(login(wrong('v6-other'), '2001:db8:1:3::1'))).statusCode, 404, 'another /64 has its own count');
  });

  test('successful logins are not failures: many in a row never trip the guard', async () => {
    const user = await t.newUser();
    const creds = { client_id: user.client_id, client_secret: user.client_secret };
    for (let i = 0; i < MAX * 4; i++) assert.equal((await t.inject(login(creds, '203.0.113.6'))).statusCode, 200);
  });
});
