import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { POSTGRES_ONLY, adminQuery, databaseName, testDatabaseUrl, whileBackendStopped } from '../helpers/database.ts';
import { waitFor } from '../helpers/broker.ts';
import { TokenCache } from '../../src/services/token-cache.ts';
import type { Caller } from '../../src/services/sessions.ts';
import { tokenDigest } from '../../src/crypto/password.ts';
import { AUTH_CHANNEL, LISTENER_APPLICATION_NAME, listenForAuthChanges } from '../../src/store/notifications.ts';

/**
 * The listener (store/notifications.ts) driving a real token cache, against a real PostgreSQL: `sync` is
 * the fence that writes wait for, and a listening backend that stops answering (SIGSTOP here; a hung server
 * or a silent network cut in life) must be given up rather than trusted.
 *
 * PostgreSQL only: on SQLite there is no other instance to hear.
 */
describe('the listener for revocations', () => {
  let databaseUrl: string;
  let sender: pg.Client;
  before(async () => {
    if (POSTGRES_ONLY) return;
    databaseUrl = (await testDatabaseUrl())!;
    sender = new pg.Client({ connectionString: databaseUrl });
    await sender.connect();
  });
  after(() => sender?.end());

  const caller: Caller = { userId: '7', principalUserId: '7', isAdmin: false, isUser: true, tokenHash: tokenDigest('t') };

  /** A cache holding one token, and a listener driving it; closed after the test. */
  async function listening(t: TestContext, options: { heartbeatMs?: number; answerMs?: number } = {}) {
    const cache = new TokenCache({ ttlMs: 60_000, maxEntries: 10 });
    const listener = listenForAuthChanges(databaseUrl, cache, options);
    t.after(() => listener.close());
    assert.equal(await listener.whenListening(30_000), true);
    cache.set(caller.tokenHash, caller, Date.now() + 60_000, cache.generation());
    assert.ok(cache.get(caller.tokenHash));
    return { cache, listener };
  }

  /** The listener's backend (the only one in this test database), stopped until `paused` ends; skipped if not permitted. */
  async function whileListenerStopped(t: TestContext, paused: () => Promise<void>) {
    const [{ pid }] = await adminQuery<{ pid: number }>('select pid from pg_stat_activity where datname = $1 and application_name = $2', [
      databaseName(databaseUrl),
      LISTENER_APPLICATION_NAME,
    ]);
    await whileBackendStopped(t, pid, paused);
  }

  test('sync: once it says true, every notification committed before it has been heard', { skip: POSTGRES_ONLY }, async (t) => {
    const { cache, listener } = await listening(t, { heartbeatMs: 60_000 });
    await sender.query('select pg_notify($1, $2)', [AUTH_CHANNEL, caller.tokenHash]);
    assert.equal(await listener.sync(), true);
    assert.equal(cache.get(caller.tokenHash), null);
  });

  test('syncs made while one round trip is on the wire share the next one', { skip: POSTGRES_ONLY }, async (t) => {
    const { listener } = await listening(t, { heartbeatMs: 60_000 });
    const syncs = Array.from({ length: 10 }, () => listener.sync());
    assert.equal(new Set(syncs).size, 2, 'the first on the wire, the nine others behind it together');
    assert.deepEqual(await Promise.all(syncs), Array(10).fill(true));
  });

  test('sync on a backend that does not answer: false, the cache suspended, and a new connection listens', { skip: POSTGRES_ONLY }, async (t) => {
    const { cache, listener } = await listening(t, { heartbeatMs: 60_000, answerMs: 200 });
    await whileListenerStopped(t, async () => {
      assert.equal(await listener.sync(), false);
      assert.equal(cache.active, false, 'suspended: every token is checked in the database');
      assert.equal(cache.get(caller.tokenHash), null);
      // A fresh backend answers while the old one is still stopped.
      await waitFor(async () => listener.listening, 10_000, 'a new connection listening');
      assert.equal(cache.active, true);
    });
  });

  test('the heartbeat gives a silent backend up without any sync', { skip: POSTGRES_ONLY }, async (t) => {
    const { cache } = await listening(t, { heartbeatMs: 50, answerMs: 50 });
    await whileListenerStopped(t, async () => {
      await waitFor(async () => !cache.active, 10_000, 'the cache suspended by the heartbeat');
      assert.equal(cache.get(caller.tokenHash), null);
    });
  });

  test('an answer that arrived while this process was busy past the bound still counts', { skip: POSTGRES_ONLY }, async (t) => {
    const { listener } = await listening(t, { heartbeatMs: 60_000, answerMs: 10 });
    const synced = listener.sync();
    // The event loop is held well past answerMs; PostgreSQL answers `select 1` meanwhile. Its timer and the
    // answer are both due when the loop turns again: the answer is read before the verdict.
    for (const end = Date.now() + 1_000; Date.now() < end; );
    assert.equal(await synced, true);
    assert.equal(listener.listening, true);
  });
});
