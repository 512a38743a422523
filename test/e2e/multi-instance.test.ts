import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { ADMIN, TEST_MASTER_KEY, makeDataDir } from '../helpers/app.ts';
import { auditSecret } from '../helpers/audit.ts';
import { assertResponse } from '../helpers/contract.ts';
import { POSTGRES_ONLY, adminQuery, databaseName, testDatabaseUrl } from '../helpers/database.ts';
import { lookerSdk } from '../helpers/looker-sdk.ts';
import { LOCAL_REDIS_URL } from '../helpers/redis-server.ts';
import { startServer, type ServerProcess } from '../helpers/server-process.ts';
import { openStore, type Store } from '../../src/store/database.ts';
import { createRepositories } from '../../src/store/repositories.ts';
import { loadSecretBox } from '../../src/crypto/master-key.ts';
import { userStatesService } from '../../src/services/user-states.ts';
import { auditService } from '../../src/services/audit.ts';
import { createWriteBatcher } from '../../src/store/write-batcher.ts';

/**
 * Horizontal scale-out: real server processes sharing one fresh PostgreSQL database and Redis, as N
 * instances behind a load balancer would. A and B run as deployed on PostgreSQL (token cache off by
 * default); C opts into a 1000 ms token cache, to hold it to its documented staleness bound.
 *
 * PostgreSQL only (see POSTGRES_ONLY): several processes on one SQLite file is not a supported deployment.
 */
describe('several instances on one PostgreSQL database and Redis', () => {
  const CACHE_MS = 1000;
  let a: ServerProcess;
  let b: ServerProcess;
  let c: ServerProcess;
  let store: Store;
  let databaseUrl: string;

  before(async () => {
    if (POSTGRES_ONLY) return;
    databaseUrl = (await testDatabaseUrl())!;
    const env = {
      DATABASE_URL: databaseUrl,
      REDIS_URL: LOCAL_REDIS_URL,
      // Its own Redis keys, so counters of other test runs never mix in.
      EOA_REDIS_KEY_PREFIX: `eoa-test-${randomBytes(6).toString('hex')}:`,
      EOA_RATE_LIMIT_MAX: '100000',
    };
    // Started together on an empty database: each migrates and bootstraps at the same moment.
    [a, b, c] = await Promise.all([
      startServer({ env }),
      startServer({ env }),
      startServer({ env: { ...env, EOA_TOKEN_CACHE_MS: String(CACHE_MS) } }),
    ]);
    store = openStore({ databaseUrl, dataDir: makeDataDir(), database: { poolMax: 2, statementTimeoutMs: 15_000 } });
  });
  after(async () => {
    if (POSTGRES_ONLY) return;
    await Promise.all([a?.stop(), b?.stop(), c?.stop()]);
    await store?.close();
  });

  async function call(server: ServerProcess, method: string, path: string, token?: string, body?: unknown) {
    const response = await fetch(`${server.baseUrl}${path}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { statusCode: response.status, body: text, headers: Object.fromEntries(response.headers), json: () => JSON.parse(text) };
  }

  async function login(server: ServerProcess, creds: { client_id: string; client_secret: string } = ADMIN): Promise<string> {
    const response = await fetch(`${server.baseUrl}/api/4.0/login`, { method: 'POST', body: new URLSearchParams(creds) });
    assert.equal(response.status, 200);
    return ((await response.json()) as { access_token: string }).access_token;
  }

  test('instances started together migrated once and created one first admin', { skip: POSTGRES_ONLY }, async () => {
    const migrations = await sql<{ name: string }>`select name from kysely_migration`.execute(store.db);
    assert.deepEqual(migrations.rows.map((r) => r.name), ['001-initial', '002-oauth-providers', '003-oauth-token-state', '004-audit-events']);
    assert.equal(await createRepositories(store.db).users.count(), 1);
    for (const server of [a, b, c]) {
      assert.doesNotMatch(server.output(), /First start|client_secret:/);
      assert.equal((await call(server, 'GET', '/readyz')).statusCode, 200);
    }
  });

  test('a token from A works on B and C', { skip: POSTGRES_ONLY }, async () => {
    const token = await login(a);
    for (const server of [b, c]) {
      const me = await call(server, 'GET', '/api/4.0/user', token);
      assert.equal(me.statusCode, 200, me.body);
      assertResponse('me', me);
      assert.equal(me.json().id, '1');
    }
  });

  test('logout on A is refused on B at once, even right after B accepted the token', { skip: POSTGRES_ONLY }, async () => {
    const token = await login(a);
    assert.equal((await call(b, 'GET', '/api/4.0/user', token)).statusCode, 200);
    const logout = await call(a, 'DELETE', '/api/4.0/logout', token);
    assert.equal(logout.statusCode, 204);
    const refused = await call(b, 'GET', '/api/4.0/user', token);
    assert.equal(refused.statusCode, 401);
    assertResponse('me', refused);
    assert.equal(refused.json().message, 'Requires authentication.');
  });

  test(`with EOA_TOKEN_CACHE_MS=${CACHE_MS}, a logout through another instance is honoured within that bound`, { skip: POSTGRES_ONLY }, async () => {
    const token = await login(a);
    // C has now checked, and cached, the token.
    assert.equal((await call(c, 'GET', '/api/4.0/user', token)).statusCode, 200);
    assert.equal((await call(a, 'DELETE', '/api/4.0/logout', token)).statusCode, 204);
    const loggedOutAt = Date.now();
    // Within the bound C may still answer from its cache; after it, never. A small margin for clocks.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, loggedOutAt + CACHE_MS + 200 - Date.now())));
    assert.equal((await call(c, 'GET', '/api/4.0/user', token)).statusCode, 401);
    // The instance that logged out never had a stale moment.
    assert.equal((await call(a, 'GET', '/api/4.0/user', token)).statusCode, 401);
  });

  test(`an admin demoted through A: its login/{user_id} token is refused on B at once, on C within ${CACHE_MS} ms`, { skip: POSTGRES_ONLY }, async () => {
    // Issue 10, defect 1, across instances: the holder's right is read from the shared database.
    const admin = await login(a);
    const newUser = async (roles: string[]) => {
      const user = (await call(a, 'POST', '/api/4.0/users', admin, { first_name: 'Holder' })).json();
      assert.equal((await call(a, 'PUT', `/api/4.0/users/${user.id}/roles`, admin, roles)).statusCode, 200);
      return user.id as string;
    };
    const holderId = await newUser(['1']);
    const targetId = await newUser(['1']);
    const creds = (await call(a, 'POST', `/api/4.0/users/${holderId}/credentials_api3`, admin, {})).json();
    auditSecret('multi-instance holder client_secret', creds.client_secret);
    const holderToken = await login(b, creds);
    const minted = await call(b, 'POST', `/api/4.0/login/${targetId}`, holderToken);
    assert.equal(minted.statusCode, 200);
    const sudo = minted.json().access_token as string;
    auditSecret('multi-instance login/{user_id} token', sudo);
    // Admin power through every instance; C has now cached the token.
    for (const server of [a, b, c]) assert.equal((await call(server, 'GET', '/api/4.0/users', sudo)).statusCode, 200);

    assert.equal((await call(a, 'PUT', `/api/4.0/users/${holderId}/roles`, admin, ['2'])).statusCode, 200);
    const demotedAt = Date.now();
    for (const [method, path, body] of [
      ['GET', '/api/4.0/users', undefined],
      ['PUT', `/api/4.0/users/${holderId}/roles`, ['1']],
      ['POST', '/api/4.0/login/1', undefined],
    ] as const) {
      const refused = await call(b, method, path, sudo, body);
      assert.equal(refused.statusCode, 401, `${method} ${path} on B: ${refused.body}`);
    }
    assert.deepEqual((await call(a, 'GET', `/api/4.0/users/${holderId}`, admin)).json().role_ids, ['2'], 'the token did not restore its holder');
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, demotedAt + CACHE_MS + 200 - Date.now())));
    assert.equal((await call(c, 'GET', '/api/4.0/users', sudo)).statusCode, 401);
  });

  test('20 concurrent creates of one client_id, split across A and B: exactly one 200, the rest 409', { skip: POSTGRES_ONLY }, async () => {
    const token = await login(a);
    const clientId = `race-${randomBytes(4).toString('hex')}`;
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        call(i % 2 === 0 ? a : b, 'POST', '/api/4.0/external_oauth_applications', token, {
          name: `race ${clientId} ${i}`,
          client_id: clientId,
          client_secret: `secret-${i}`,
          dialect_name: 'snowflake',
        }),
      ),
    );
    const statuses = responses.map((r) => r.statusCode);
    assert.equal(statuses.filter((s) => s === 200).length, 1, statuses.join());
    assert.equal(statuses.filter((s) => s === 409).length, 19, statuses.join());
    for (const response of responses) assertResponse('create_external_oauth_application', response);
    const conflict = responses.find((r) => r.statusCode === 409)!;
    assert.equal(conflict.json().message, 'An External OAuth Application with this client_id already exists');

    // Every instance sees the one winner, and its secret opens with the shared master key.
    const winner = responses.find((r) => r.statusCode === 200)!.json();
    for (const server of [a, b]) {
      const listed = await call(server, 'GET', `/api/4.0/external_oauth_applications?client_id=${encodeURIComponent(clientId)}`, token);
      assert.deepEqual(listed.json().map((app: { id: string }) => app.id), [winner.id]);
    }
  });

  test('20 concurrent creates of one name with different client_ids: exactly one 200', { skip: POSTGRES_ONLY }, async () => {
    const token = await login(b);
    const name = `same name ${randomBytes(4).toString('hex')}`;
    const statuses = (
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          call(i % 2 === 0 ? b : a, 'POST', '/api/4.0/external_oauth_applications', token, {
            name,
            client_id: `${name}-${i}`,
            client_secret: 's',
            dialect_name: 'bigquery',
          }),
        ),
      )
    ).map((r) => r.statusCode);
    assert.deepEqual([statuses.filter((s) => s === 200).length, statuses.filter((s) => s === 409).length], [1, 19], statuses.join());
  });

  test('a user state written through A is replaced through B', { skip: POSTGRES_ONLY }, async () => {
    const sdkA = lookerSdk(a.baseUrl, ADMIN);
    const sdkB = lookerSdk(b.baseUrl, ADMIN);
    try {
      const app = await sdkA.ok(
        sdkA.create_external_oauth_application({
          name: `vault ${randomBytes(4).toString('hex')}`,
          client_id: `vault-${randomBytes(4).toString('hex')}`,
          client_secret: 'vault-secret',
          dialect_name: 'snowflake',
        }),
      );
      await sdkA.ok(
        sdkA.create_oauth_application_user_state({
          user_id: '1',
          oauth_application_id: app.id!,
          access_token: 'access-from-A',
          access_token_expires_at: new Date('2030-01-01T00:00:00Z'),
          refresh_token: 'refresh-from-A',
          refresh_token_expires_at: new Date('2031-01-01T00:00:00Z'),
        }),
      );
      await sdkB.ok(
        sdkB.create_oauth_application_user_state({
          user_id: '1',
          oauth_application_id: app.id!,
          access_token: 'access-from-B',
          access_token_expires_at: new Date('2030-06-01T12:00:00+02:00'),
        }),
      );

      // Opened outside both processes, with the key they share: one row, B's tokens, A's refresh token gone.
      const repos = createRepositories(store.db);
      const writes = createWriteBatcher(store.db, store.engine);
      const audit = auditService(repos, writes, { retentionDays: 0, failedLoginEvents: 5, failedLoginWindowS: 60 });
      const vault = userStatesService(repos, loadSecretBox(TEST_MASTER_KEY, makeDataDir()), writes, audit);
      assert.deepEqual(await vault.openTokens('1', app.id!), {
        access_token: 'access-from-B',
        access_token_expires_at: '2030-06-01T10:00:00.000Z',
        refresh_token: null,
        refresh_token_expires_at: null,
      });
      const rows = await store.db.selectFrom('oauth_application_user_states').select('user_id').where('oauth_application_id', '=', app.id!).execute();
      assert.equal(rows.length, 1);
    } finally {
      await Promise.all([sdkA.authSession.logout(), sdkB.authSession.logout()]);
    }
  });

  test('instances outlive the loss of every database connection and serve on', { skip: POSTGRES_ONLY }, async () => {
    const token = await login(a);
    await Promise.all([a, b, c].flatMap((server) => Array.from({ length: 4 }, () => call(server, 'GET', '/api/4.0/user', token))));
    // What a failover does to the instances' pools (and to this test's own, which recovers the same way).
    const killed = await adminQuery(
      'select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()',
      [databaseName(databaseUrl)],
    );
    assert.ok(killed.length >= 3, `terminated ${killed.length} connections`);
    for (const server of [a, b, c]) {
      for (let i = 0; i < 3; i++) {
        const me = await call(server, 'GET', '/api/4.0/user', token);
        assert.equal(me.statusCode, 200, me.body);
      }
      assert.equal((await call(server, 'GET', '/readyz')).statusCode, 200);
      assert.equal(server.child.exitCode, null, 'the process is still running');
    }
    const relogin = await login(b);
    assert.equal((await call(c, 'GET', '/api/4.0/user', relogin)).statusCode, 200);
  });

  test('rate-limit counters are shared through Redis', { skip: POSTGRES_ONLY }, async () => {
    const token = await login(a);
    const first = await call(a, 'GET', '/api/4.0/user', token);
    const second = await call(b, 'GET', '/api/4.0/user', token);
    const remaining = (r: { headers: Record<string, string> }) => Number(r.headers['x-ratelimit-remaining']);
    assert.ok(Number.isInteger(remaining(first)), JSON.stringify(first.headers));
    assert.equal(remaining(second), remaining(first) - 1);
  });
});
