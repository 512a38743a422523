import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { TokenCache } from '../../src/services/token-cache.ts';
import type { Caller } from '../../src/services/sessions.ts';
import { tokenDigest } from '../../src/crypto/password.ts';
import { ADMIN, bearer, buildTestApp, loginToken, type TestApp } from '../helpers/app.ts';

const caller = (userId: string): Caller => ({ userId, principalUserId: userId, isAdmin: false, isUser: true, tokenHash: `h${userId}` });

/** A cache on a clock the test moves by hand. */
function cacheAt(options: { ttlMs: number; maxEntries: number }) {
  let now = 1_000_000;
  const cache = new TokenCache({ ...options, now: () => now });
  return { cache, advance: (ms: number) => (now += ms), now: () => now };
}

describe('TokenCache', () => {
  test('an entry lives until the cache bound and not after', () => {
    const { cache, advance, now } = cacheAt({ ttlMs: 1000, maxEntries: 10 });
    cache.set('a', caller('1'), now() + 3_600_000, cache.generation());
    advance(999);
    assert.deepEqual(cache.get('a'), caller('1'));
    advance(1);
    assert.equal(cache.get('a'), null);
    assert.equal(cache.size, 0);
  });

  test('an entry never outlives its token', () => {
    const { cache, advance, now } = cacheAt({ ttlMs: 1000, maxEntries: 10 });
    cache.set('a', caller('1'), now() + 300, cache.generation());
    advance(299);
    assert.ok(cache.get('a'));
    advance(1);
    assert.equal(cache.get('a'), null);
    cache.set('b', caller('2'), now(), cache.generation());
    assert.equal(cache.get('b'), null, 'a token already expired is not cached');
  });

  test('ttlMs 0 caches nothing', () => {
    const { cache, now } = cacheAt({ ttlMs: 0, maxEntries: 10 });
    assert.equal(cache.enabled, false);
    cache.set('a', caller('1'), now() + 3_600_000, cache.generation());
    assert.equal(cache.get('a'), null);
  });

  test('the size is bounded; the least recently used entry goes first', () => {
    const { cache, now } = cacheAt({ ttlMs: 1000, maxEntries: 3 });
    for (const key of ['a', 'b', 'c']) cache.set(key, caller(key), now() + 60_000, cache.generation());
    assert.ok(cache.get('a'), 'touch a: b is now the oldest');
    cache.set('d', caller('d'), now() + 60_000, cache.generation());
    assert.equal(cache.size, 3);
    assert.equal(cache.get('b'), null);
    for (const key of ['a', 'c', 'd']) assert.ok(cache.get(key), key);
  });

  test('delete and clear drop entries', () => {
    const { cache, now } = cacheAt({ ttlMs: 1000, maxEntries: 10 });
    for (const key of ['a', 'b', 'c']) cache.set(key, caller(key), now() + 60_000, cache.generation());
    cache.delete('a');
    assert.equal(cache.get('a'), null);
    assert.ok(cache.get('b'));
    cache.clear();
    assert.equal(cache.size, 0);
  });

  test('suspended, it answers and keeps nothing; a lookup begun before a suspend or a resume cannot fill it', () => {
    const { cache, now } = cacheAt({ ttlMs: 60_000, maxEntries: 10 });
    cache.set('a', caller('a'), now() + 60_000, cache.generation());
    const before = cache.generation();
    cache.suspend(); // the listening connection is lost: changes may go unheard from now on
    assert.equal(cache.get('a'), null);
    assert.equal(cache.size, 0);
    cache.set('b', caller('b'), now() + 60_000, cache.generation());
    assert.equal(cache.size, 0, 'nothing is kept while suspended');
    const during = cache.generation();
    cache.resume();
    cache.set('c', caller('c'), now() + 60_000, before);
    cache.set('d', caller('d'), now() + 60_000, during);
    assert.equal(cache.size, 0, 'lookups that began before the resume were not told of what changed meanwhile');
    cache.set('e', caller('e'), now() + 60_000, cache.generation());
    assert.ok(cache.get('e'));
  });

  test('a notification names one token by its digest, or anything else: then every token goes', () => {
    const { cache, now } = cacheAt({ ttlMs: 60_000, maxEntries: 10 });
    const [x, y] = [tokenDigest('x'), tokenDigest('y')];
    for (const key of [x, y]) cache.set(key, caller(key), now() + 60_000, cache.generation());
    cache.invalidate(x);
    assert.equal(cache.get(x), null);
    assert.ok(cache.get(y));
    cache.invalidate('*');
    assert.equal(cache.size, 0);
  });

  test('a lookup in flight across an invalidation does not put the revoked caller back', () => {
    const { cache, now } = cacheAt({ ttlMs: 1000, maxEntries: 10 });
    const generation = cache.generation();
    cache.delete('a'); // logout lands while the database lookup for 'a' is in flight
    cache.set('a', caller('a'), now() + 60_000, generation);
    assert.equal(cache.get('a'), null);
  });

  describe('getFenced, for a request that changes state', () => {
    /** A cache whose fence (the listener's sync) runs `during` and answers what it returns. */
    const KEY = tokenDigest('a');
    function fencedCache(during: (cache: TokenCache) => boolean) {
      const { cache, now } = cacheAt({ ttlMs: 60_000, maxEntries: 10 });
      let fences = 0;
      cache.useFence(async () => {
        fences += 1;
        return during(cache);
      });
      cache.set(KEY, caller('a'), now() + 60_000, cache.generation());
      return { cache, fences: () => fences };
    }

    test('a hit counts once the fence has heard everything committed before it', async () => {
      const { cache, fences } = fencedCache(() => true);
      assert.deepEqual(await cache.getFenced(KEY), caller('a'));
      assert.equal(fences(), 1);
    });

    test('a revocation heard during the fence drops the hit: the database answers', async () => {
      const { cache } = fencedCache((c) => {
        c.invalidate(KEY); // the notification of a logout on another instance
        return true;
      });
      assert.equal(await cache.getFenced(KEY), null);
    });

    test('a fence that could not hear (no answer) trusts nothing, nor does one that suspended the cache', async () => {
      assert.equal(await fencedCache(() => false).cache.getFenced(KEY), null);
      const { cache } = fencedCache((c) => {
        c.suspend(); // what the listener does when it gives a silent connection up
        return true;
      });
      assert.equal(await cache.getFenced(KEY), null);
    });

    test('a miss, or a suspended cache, costs no fence', async () => {
      const { cache, fences } = fencedCache(() => true);
      assert.equal(await cache.getFenced('b'), null);
      cache.suspend();
      assert.equal(await cache.getFenced(KEY), null);
      assert.equal(fences(), 0);
    });
  });
});

describe('token cache in the service', () => {
  let t: TestApp;
  before(async () => {
    // A long bound, so that only explicit invalidation can explain a refusal below.
    t = await buildTestApp({ EOA_TOKEN_CACHE_MS: '60000' });
  });
  after(() => t.close());

  const me = (token: string) => t.inject({ method: 'GET', url: '/api/4.0/user', headers: bearer(token) });
  const admin = () => bearer(t.adminToken);

  test('a cached token is answered without the database: a session removed behind its back still works', async () => {
    const token = await loginToken(t.app, ADMIN.client_id, ADMIN.client_secret);
    assert.equal((await me(token)).statusCode, 200);
    // SQL typed by hand: the row is gone and nobody was told (the repository would notify every instance).
    const removed = await t.app.store.db.deleteFrom('sessions').where('token_hash', '=', tokenDigest(token)).executeTakeFirst();
    assert.equal(removed.numDeletedRows, 1n);
    assert.equal((await me(token)).statusCode, 200);
  });

  test('logout through this process is refused at once', async () => {
    const token = await loginToken(t.app, ADMIN.client_id, ADMIN.client_secret);
    assert.equal((await me(token)).statusCode, 200);
    assert.equal((await t.inject({ method: 'DELETE', url: '/api/4.0/logout', headers: bearer(token) })).statusCode, 204);
    assert.equal((await me(token)).statusCode, 401);
  });

  test('disabling the user, then deleting credentials, then deleting the user each revoke cached tokens at once', async () => {
    const user = await t.newUser();
    assert.equal((await me(user.token)).statusCode, 200);
    const disable = await t.inject({ method: 'PATCH', url: `/api/4.0/users/${user.id}`, headers: admin(), payload: { is_disabled: true } });
    assert.equal(disable.statusCode, 200);
    assert.equal((await me(user.token)).statusCode, 401);

    const other = await t.newUser();
    assert.equal((await me(other.token)).statusCode, 200);
    const creds = JSON.parse((await t.inject({ method: 'GET', url: `/api/4.0/users/${other.id}/credentials_api3`, headers: admin() })).body);
    const removed = await t.inject({ method: 'DELETE', url: `/api/4.0/users/${other.id}/credentials_api3/${creds[0].id}`, headers: admin() });
    assert.equal(removed.statusCode, 204);
    assert.equal((await me(other.token)).statusCode, 401);

    const third = await t.newUser();
    assert.equal((await me(third.token)).statusCode, 200);
    assert.equal((await t.inject({ method: 'DELETE', url: `/api/4.0/users/${third.id}`, headers: admin() })).statusCode, 204);
    assert.equal((await me(third.token)).statusCode, 401);
  });

  test('disabling credentials revokes at once', async () => {
    const user = await t.newUser();
    assert.equal((await me(user.token)).statusCode, 200);
    const creds = JSON.parse((await t.inject({ method: 'GET', url: `/api/4.0/users/${user.id}/credentials_api3`, headers: admin() })).body);
    const disabled = await t.inject({
      method: 'PATCH',
      url: `/api/4.0/users/${user.id}/credentials_api3/${creds[0].id}`,
      headers: admin(),
      payload: { is_disabled: true },
    });
    assert.equal(disabled.statusCode, 200);
    assert.equal((await me(user.token)).statusCode, 401);
  });

  test('a role change applies at once: a user made admin, then not, sees admin routes open and close', async () => {
    const user = await t.newUser();
    const roles = () => t.inject({ method: 'GET', url: '/api/4.0/roles', headers: bearer(user.token) });
    assert.equal((await roles()).statusCode, 404);
    const setRoles = (ids: string[]) => t.inject({ method: 'PUT', url: `/api/4.0/users/${user.id}/roles`, headers: admin(), payload: ids });
    assert.equal((await setRoles(['1'])).statusCode, 200);
    assert.equal((await roles()).statusCode, 200);
    assert.equal((await setRoles(['2'])).statusCode, 200);
    assert.equal((await roles()).statusCode, 404);
  });
});

describe('token cache bound and switch', () => {
  test('with EOA_TOKEN_CACHE_MS=0 a session removed behind the process is refused at once', async () => {
    const t = await buildTestApp({ EOA_TOKEN_CACHE_MS: '0' });
    try {
      const token = await loginToken(t.app, ADMIN.client_id, ADMIN.client_secret);
      assert.equal((await t.inject({ method: 'GET', url: '/api/4.0/user', headers: bearer(token) })).statusCode, 200);
      await t.app.repos.sessions.delete(tokenDigest(token));
      assert.equal((await t.inject({ method: 'GET', url: '/api/4.0/user', headers: bearer(token) })).statusCode, 401);
    } finally {
      await t.close();
    }
  });

  test('once the bound has passed, a session removed behind the process is refused', async () => {
    const t = await buildTestApp({ EOA_TOKEN_CACHE_MS: '200' });
    try {
      const token = await loginToken(t.app, ADMIN.client_id, ADMIN.client_secret);
      assert.equal((await t.inject({ method: 'GET', url: '/api/4.0/user', headers: bearer(token) })).statusCode, 200);
      await t.app.repos.sessions.delete(tokenDigest(token));
      await sleep(400); // past the bound; the assertion is about what is answered after it, not when
      assert.equal((await t.inject({ method: 'GET', url: '/api/4.0/user', headers: bearer(token) })).statusCode, 401);
    } finally {
      await t.close();
    }
  });
});
