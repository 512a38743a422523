import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../src/store/schema.ts';
import { bearer, buildTestApp, json, loginToken, ADMIN, type TestApp } from '../helpers/app.ts';
import { POSTGRES_ONLY, adminQuery, databaseName } from '../helpers/database.ts';
import { assertResponse } from '../helpers/contract.ts';

/**
 * PostgreSQL connections die under a running service (failover, restart, a proxy cutting idle
 * connections). The service must neither crash nor keep failing: the pool replaces dead connections,
 * reads are retried once, and anything that cannot be retried fails as a clean 500.
 */
describe('lost PostgreSQL connections', () => {
  let t: TestApp;
  let database: string;
  before(async () => {
    if (POSTGRES_ONLY) return;
    t = await buildTestApp();
    database = databaseName(t.config.databaseUrl!);
  });
  after(() => t?.close());

  /** Kills every backend of the app's database, as an administrator or a failover would. */
  async function terminateBackends(): Promise<number> {
    const rows = await adminQuery<{ pid: number }>(
      'select pg_terminate_backend(pid), pid from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()',
      [database],
    );
    return rows.length;
  }

  async function waitUntilGone(pid: number) {
    for (let i = 0; i < 200; i++) {
      const rows = await adminQuery('select 1 from pg_stat_activity where pid = $1', [pid]);
      if (rows.length === 0) return;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(`backend ${pid} still there`);
  }

  const me = () => t.inject({ method: 'GET', url: '/api/4.0/user', headers: bearer(t.adminToken) });

  test('requests after every pooled connection was terminated succeed', { skip: POSTGRES_ONLY }, async () => {
    // Fill the pool with several idle connections first.
    await Promise.all(Array.from({ length: 8 }, me));
    assert.ok((await terminateBackends()) > 0, 'there were connections to terminate');
    for (let round = 0; round < 3; round++) {
      const reads = await Promise.all(Array.from({ length: 8 }, me));
      for (const response of reads) assert.equal(response.statusCode, 200, response.body);
      const token = await loginToken(t.app, ADMIN.client_id, ADMIN.client_secret);
      assert.equal((await t.inject({ method: 'GET', url: '/api/4.0/user', headers: bearer(token) })).statusCode, 200);
      await terminateBackends();
    }
  });

  test('token reads right after every pooled connection was terminated answer 200, each with its audit event', { skip: POSTGRES_ONLY }, async () => {
    // The read's audit event is one INSERT in autocommit, which is not retried like a BEGIN would be; the
    // read's SELECT goes first, and finds (and replaces) the dead connections before the INSERT is sent.
    const APPS = '/api/4.0/external_oauth_applications';
    const created = await t.inject({ method: 'POST', url: APPS, headers: bearer(t.adminToken), payload: { name: 'loss-app', client_id: 'loss-client', client_secret: 'loss-secret-0123456789' } });
    assert.equal(created.statusCode, 200, created.body);
    const me = json(await t.inject({ method: 'GET', url: '/api/4.0/user', headers: bearer(t.adminToken) })).id;
    const expires = new Date(Date.now() + 86_400_000).toISOString();
    const stored = await t.inject({ method: 'POST', url: `${APPS}/user_state`, headers: bearer(t.adminToken), payload: { user_id: me, oauth_application_id: json(created).id, access_token: 'loss-access-token-0123456789', access_token_expires_at: expires } });
    assert.equal(stored.statusCode, 200, stored.body);
    const readEvents = async () => (await t.app.store.db.selectFrom('audit_events').select('id').where('action', '=', 'user_state.read_token').execute()).length;
    const before = await readEvents();
    for (let round = 0; round < 3; round++) {
      await Promise.all(Array.from({ length: 8 }, () => t.inject({ method: 'GET', url: '/api/4.0/user', headers: bearer(t.adminToken) })));
      assert.ok((await terminateBackends()) > 0, 'there were connections to terminate');
      const reads = await Promise.all(Array.from({ length: 8 }, () => t.inject({ method: 'POST', url: `${APPS}/loss-client/access_token`, headers: bearer(t.adminToken), payload: {} })));
      for (const response of reads) assert.equal(response.statusCode, 200, response.body);
    }
    assert.equal(await readEvents(), before + 24);
  });

  /** The server process behind a connection; a SELECT, so a stale pooled connection cannot fail it. */
  async function backendPid(db: Kysely<Database>): Promise<number> {
    const row = await db.selectNoFrom(sql<number>`pg_backend_pid()`.as('pid')).executeTakeFirstOrThrow();
    return row.pid;
  }

  async function killAndWait(pid: number) {
    await adminQuery('select pg_terminate_backend($1)', [pid]);
    await waitUntilGone(pid);
  }

  const localeOfAdmin = async () =>
    (await t.app.store.db.selectFrom('users').select('locale').where('id', '=', '1').executeTakeFirstOrThrow()).locale;

  test('a read on a connection that died while held is retried on a fresh one', { skip: POSTGRES_ONLY }, async () => {
    const rows = await t.app.store.db.connection().execute(async (connection) => {
      await killAndWait(await backendPid(connection));
      return connection.selectFrom('roles').select('name').orderBy('id').execute();
    });
    assert.deepEqual(rows.map((r) => r.name), ['Admin', 'User']);
  });

  test('a write on a connection already known dead was never sent: it runs once on a fresh one', { skip: POSTGRES_ONLY }, async () => {
    await t.app.store.db.connection().execute(async (connection) => {
      await killAndWait(await backendPid(connection));
      // Let the client read the server's goodbye, so pg refuses the statement before sending it.
      await new Promise((resolve) => setTimeout(resolve, 100));
      await connection.updateTable('users').set({ locale: 'de' }).where('id', '=', '1').execute();
    });
    assert.equal(await localeOfAdmin(), 'de');
    await t.app.store.db.updateTable('users').set({ locale: null }).where('id', '=', '1').execute();
  });

  test('a write whose connection dies while it runs is not retried: it fails and changes nothing', { skip: POSTGRES_ONLY }, async () => {
    const db = t.app.store.db;
    await assert.rejects(
      db.connection().execute(async (connection) => {
        const pid = await backendPid(connection);
        // The UPDATE sleeps on the server; the backend is killed while it does.
        const write = connection
          .updateTable('users')
          .set({ locale: 'it' })
          .where('id', '=', '1')
          .where(sql<boolean>`pg_sleep(5) is not null`)
          .execute();
        // Handled from the start: it rejects while this test still polls.
        write.catch(() => {});
        for (let i = 0; i < 200; i++) {
          const active = await adminQuery("select 1 from pg_stat_activity where pid = $1 and state = 'active'", [pid]);
          if (active.length > 0) break;
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        await adminQuery('select pg_terminate_backend($1)', [pid]);
        await write;
      }),
      (error: { code?: string }) => error.code === '57P01',
    );
    assert.equal(await localeOfAdmin(), null);
  });

  test('a transaction whose connection dies mid-way rolls back; the next transaction works', { skip: POSTGRES_ONLY }, async () => {
    const db = t.app.store.db;
    await assert.rejects(
      db.transaction().execute(async (tx) => {
        await tx.updateTable('users').set({ locale: 'es' }).where('id', '=', '1').execute();
        await killAndWait(await backendPid(tx));
        await tx.selectFrom('users').select('id').execute();
      }),
    );
    assert.equal(await localeOfAdmin(), null);
    const count = await db.transaction().execute(async (tx) => (await tx.selectFrom('roles').selectAll().execute()).length);
    assert.equal(count, 2);
  });

  test('a request running while its connection is killed answers a clean 503 with Retry-After at worst, and the process lives on', { skip: POSTGRES_ONLY }, async () => {
    const statuses: number[] = [];
    // Each round starts requests and kills the backends while they run.
    for (let round = 0; round < 5; round++) {
      const inflight = Array.from({ length: 6 }, (_, i) =>
        i % 2 === 0 ? me() : t.inject({ method: 'POST', url: '/api/4.0/login', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams(ADMIN).toString() }),
      );
      await terminateBackends();
      for (const response of await Promise.all(inflight)) {
        statuses.push(response.statusCode);
        if (response.statusCode >= 500) {
          // A lost connection is the database being unavailable: the client may retry, as after a 429.
          assert.equal(response.statusCode, 503, response.body);
          assert.match(String(response.headers['retry-after']), /^\d+$/);
          assert.deepEqual(Object.keys(json(response)).sort(), ['documentation_url', 'message']);
          assert.doesNotMatch(response.body, /terminat|pg_|postgres|connection/i);
        } else {
          assert.equal(response.statusCode, 200, response.body);
        }
      }
    }
    assert.equal(statuses.length, 30);
    const response = await me();
    assert.equal(response.statusCode, 200);
    assertResponse('me', response);
  });

  test('during an outage (the database refuses connections) every request answers 503 with Retry-After, and works again after', { skip: POSTGRES_ONLY }, async () => {
    await adminQuery(`alter database ${database} allow_connections false`);
    try {
      await terminateBackends();
      const during = await Promise.all([
        me(),
        t.inject({ method: 'GET', url: '/api/4.0/external_oauth_applications', headers: bearer(t.adminToken) }),
        t.inject({ method: 'POST', url: '/api/4.0/external_oauth_applications', headers: bearer(t.adminToken), payload: { name: 'outage', client_id: 'outage', client_secret: 'outage-secret-0123456789' } }),
        t.inject({ method: 'POST', url: '/api/4.0/login', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams(ADMIN).toString() }),
      ]);
      for (const response of during) {
        assert.equal(response.statusCode, 503, response.body);
        assert.match(String(response.headers['retry-after']), /^\d+$/);
        assert.deepEqual(Object.keys(json(response)).sort(), ['documentation_url', 'message']);
        assert.doesNotMatch(response.body, /accepting|pg_|postgres|connection/i);
      }
      assert.equal((await t.inject({ method: 'GET', url: '/readyz' })).statusCode, 503);
      assert.equal((await t.inject({ method: 'GET', url: '/versions' })).statusCode, 200, 'what needs no database is served');
    } finally {
      await adminQuery(`alter database ${database} allow_connections true`);
    }
    assert.equal((await me()).statusCode, 200);
    const created = await t.inject({ method: 'POST', url: '/api/4.0/external_oauth_applications', headers: bearer(t.adminToken), payload: { name: 'outage', client_id: 'outage', client_secret: 'outage-secret-0123456789' } });
    assert.equal(created.statusCode, 200, 'the write refused during the outage was not half-done');
  });

  test('readiness reports the database again once it is back', { skip: POSTGRES_ONLY }, async () => {
    await terminateBackends();
    const response = await t.inject({ method: 'GET', url: '/readyz' });
    assert.equal(response.statusCode, 200, response.body);
  });
});
