import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { ADMIN, bearer, buildTestApp, json, type TestApp } from '../helpers/app.ts';
import { assertSchema } from '../helpers/contract.ts';
import { freePort } from '../helpers/free-port.ts';
import { LOCAL_REDIS_URL, redisUnavailable, startThrowawayRedis, type ThrowawayRedis } from '../helpers/redis-server.ts';

const skip = await redisUnavailable();

const MAX = 6;

/** Each test app gets a key prefix of its own, so parallel runs on the shared Redis never meet. */
const uniquePrefix = () => `eoa-test:${randomUUID()}:`;

const me = (t: TestApp) => t.inject({ method: 'GET', url: '/api/4.0/user', headers: bearer(t.adminToken) });

const UNREACHABLE = /Redis unreachable/;
const BACK = /Redis reachable again/;
const countLines = (t: TestApp, pattern: RegExp) => t.logs.filter((line) => pattern.test(line)).length;

async function eventually(check: () => Promise<boolean>, what: string) {
  for (let attempt = 0; attempt < 200; attempt++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.fail(`gave up waiting: ${what}`);
}

describe('two instances sharing Redis', () => {
  const prefix = uniquePrefix();
  const env = {
    REDIS_URL: LOCAL_REDIS_URL,
    EOA_REDIS_KEY_PREFIX: prefix,
    EOA_RATE_LIMIT_MAX: String(MAX),
    EOA_LOGIN_GUARD_MAX: '2',
  };
  let one: TestApp;
  let two: TestApp;
  let inspect: Redis;
  before(async () => {
    if (skip) return;
    one = await buildTestApp(env);
    two = await buildTestApp(env);
    inspect = new Redis(LOCAL_REDIS_URL);
  });
  after(async () => {
    if (skip) return;
    await Promise.all([one.close(), two.close()]);
    const keys = await inspect.keys(`${prefix}*`);
    if (keys.length > 0) await inspect.del(...keys);
    inspect.disconnect();
  });

  test('enforce one limit: requests to either count against the same allowance', { skip }, async () => {
    // Both stores bootstrap the admin as user 1, as instances sharing one database would see it.
    for (let i = 1; i <= MAX; i++) {
      const response = await me(i % 2 ? one : two);
      assert.equal(response.statusCode, 200);
      // A Redis warning in the logs would explain a miscount (a command that timed out under load).
      const redisLines = [...one.logs, ...two.logs].filter((line) => /Redis/.test(line)).join('\n');
      assert.equal(response.headers['x-ratelimit-remaining'], String(MAX - i), redisLines);
    }
    for (const t of [one, two]) {
      const limited = await me(t);
      assert.equal(limited.statusCode, 429);
      assertSchema('Error', json(limited));
      assert.ok(Number(limited.headers['retry-after']) >= 1);
    }
    const ttl = await inspect.pttl(`${prefix}rate:user:1`);
    assert.ok(ttl > 0 && ttl <= 60_000, `the counter expires with its window (PTTL ${ttl})`);
  });

  test('share the login guard: failures on one instance block the other', { skip }, async () => {
    const address = '192.0.2.10';
    const attempt = (t: TestApp, secret: string) =>
      t.inject({
        method: 'POST',
        url: '/api/4.0/login',
        remoteAddress: address,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ client_id: 'someone-else', client_secret: secret }).toString(),
      });
    assert.equal((await attempt(one, 'guess-1')).statusCode, 404);
    assert.equal((await attempt(two, 'guess-2')).statusCode, 404);
    assert.equal((await attempt(one, 'guess-3')).statusCode, 429);
    assert.equal((await attempt(two, 'guess-4')).statusCode, 429);
  });
});

describe('Redis going away', () => {
  let redis: ThrowawayRedis;
  let t: TestApp;
  const prefix = uniquePrefix();
  before(async () => {
    if (skip) return;
    redis = await startThrowawayRedis();
    t = await buildTestApp({ REDIS_URL: redis.url, EOA_REDIS_KEY_PREFIX: prefix, EOA_RATE_LIMIT_MAX: '1000' });
  });
  after(async () => {
    if (skip) return;
    await t.close();
    await redis.stop();
  });

  test('never produces a 5xx: counting goes on in memory, one warning per outage, back to Redis when it returns', { skip }, async () => {
    assert.equal((await me(t)).statusCode, 200);
    assert.equal(await redis.client.get(`${prefix}rate:user:1`), '1', 'counted in Redis while it is up');
    assert.equal(countLines(t, UNREACHABLE), 0);

    await redis.kill();
    let before = Infinity;
    for (let i = 0; i < 30; i++) {
      const response = await me(t);
      assert.equal(response.statusCode, 200, `request ${i} while Redis is down: ${response.statusCode} ${response.body}`);
      // The in-process fallback counts too: remaining keeps going down.
      const remaining = Number(response.headers['x-ratelimit-remaining']);
      assert.ok(remaining < before);
      before = remaining;
    }
    // The login guard keeps working without Redis as well.
    const login = await t.inject({
      method: 'POST',
      url: '/api/4.0/login',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams(ADMIN).toString(),
    });
    assert.equal(login.statusCode, 200);
    assert.equal(countLines(t, UNREACHABLE), 1, 'one warning for the whole outage');
    assert.ok(!t.logs.some((line) => /"level":50/.test(line)), 'nothing logged as an error');

    await redis.restart();
    await eventually(async () => {
      assert.equal((await me(t)).statusCode, 200);
      return (await redis.client.get(`${prefix}rate:user:1`)) !== null;
    }, 'the service counting in the restarted Redis');
    assert.equal(countLines(t, BACK), 1);

    // A second outage is a new outage: one more warning.
    await redis.kill();
    for (let i = 0; i < 5; i++) assert.equal((await me(t)).statusCode, 200);
    assert.equal(countLines(t, UNREACHABLE), 2);
  });

  test('while Redis is down the limit is still enforced, by this process', { skip }, async () => {
    await redis.kill();
    const strict = await buildTestApp({ REDIS_URL: redis.url, EOA_REDIS_KEY_PREFIX: prefix, EOA_RATE_LIMIT_MAX: '3' });
    try {
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push((await me(strict)).statusCode);
      assert.deepEqual(statuses, [200, 200, 200, 429]);
    } finally {
      await strict.close();
    }
  });
});

describe('Redis unreachable from the start', () => {
  test('the service starts and serves, with a warning', async () => {
    const port = await freePort();
    const t = await buildTestApp({ REDIS_URL: `redis://127.0.0.1:${port}`, EOA_RATE_LIMIT_MAX: '100' });
    try {
      const response = await me(t);
      assert.equal(response.statusCode, 200);
      assert.equal(response.headers['x-ratelimit-remaining'], '99');
      assert.equal(countLines(t, UNREACHABLE), 1);
    } finally {
      await t.close();
    }
  });
});
