import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { ADMIN, TEST_MASTER_KEY, makeDataDir } from '../helpers/app.ts';
import { auditSecret } from '../helpers/audit.ts';
import { assertResponse } from '../helpers/contract.ts';
import { POSTGRES_ONLY, adminQuery, databaseName, testDatabaseUrl, whileBackendStopped } from '../helpers/database.ts';
import { lookerSdk } from '../helpers/looker-sdk.ts';
import { LOCAL_REDIS_URL } from '../helpers/redis-server.ts';
import { startServer, type ServerProcess } from '../helpers/server-process.ts';
import { openStore, type Store } from '../../src/store/database.ts';
import { createRepositories } from '../../src/store/repositories.ts';
import { loadSecretBox } from '../../src/crypto/master-key.ts';
import { userStatesService } from '../../src/services/user-states.ts';
import { auditService } from '../../src/services/audit.ts';
import { createWriteBatcher } from '../../src/store/write-batcher.ts';
import { tokenDigest } from '../../src/crypto/password.ts';
import { AUTH_CHANNEL, LISTENER_APPLICATION_NAME } from '../../src/store/notifications.ts';

/**
 * Horizontal scale-out: real server processes sharing one fresh PostgreSQL database and Redis, as N
 * instances behind a load balancer would. All three run as deployed, with the token cache on: every
 * instance answers a token it has checked from memory, and every revocation through any instance reaches
 * the others through PostgreSQL NOTIFY (store/notifications.ts) before they answer again.
 *
 * PostgreSQL only (see POSTGRES_ONLY): several processes on one SQLite file is not a supported deployment.
 */
describe('several instances on one PostgreSQL database and Redis', () => {
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
    [a, b, c] = await Promise.all([startServer({ env }), startServer({ env }), startServer({ env })]);
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

  const me = (server: ServerProcess, token: string) => call(server, 'GET', '/api/4.0/user', token);

  /** Removes a session the way nothing in the service does: no notification, so only a cache miss sees it. */
  async function deleteSessionUnannounced(token: string) {
    const result = await store.db.deleteFrom('sessions').where('token_hash', '=', tokenDigest(token)).executeTakeFirst();
    assert.equal(result.numDeletedRows, 1n);
  }

  /** A new user with the given roles and API credentials, made through A by the first admin. */
  async function newUser(admin: string, roles: string[]) {
    const user = (await call(a, 'POST', '/api/4.0/users', admin, { first_name: 'Multi' })).json();
    assert.equal((await call(a, 'PUT', `/api/4.0/users/${user.id}/roles`, admin, roles)).statusCode, 200);
    const creds = (await call(a, 'POST', `/api/4.0/users/${user.id}/credentials_api3`, admin, {})).json();
    auditSecret('multi-instance user client_secret', creds.client_secret);
    return { id: user.id as string, creds: { client_id: creds.client_id as string, client_secret: creds.client_secret as string } };
  }

  const SUSPENDED = /token cache suspended/g;
  const LISTENING = /token cache on: listening for revocations/g;
  const count = (server: ServerProcess, pattern: RegExp) => server.output().match(pattern)?.length ?? 0;

  /** Polls the server's log for a state it reports (no timing is asserted; 10 s is only a hang guard). */
  async function until(what: string, done: () => boolean, withinMs = 10_000) {
    for (const started = Date.now(); !done(); await sleep(20)) {
      if (Date.now() - started > withinMs) assert.fail(`not seen within ${withinMs} ms: ${what}`);
    }
  }

  /** The backend of the server's listening connection, as its latest "listening" line names it. */
  async function listenerBackend(server: ServerProcess): Promise<number> {
    const line = server.output().split('\n').filter((l) => l.includes('token cache on: listening for revocations')).at(-1) ?? '';
    const pid = Number(/"backendPid":(\d+)/.exec(line)?.[1]);
    // Checked before it is signalled: that pid is this test database's listener and nothing else.
    const rows = await adminQuery('select 1 from pg_stat_activity where pid = $1 and datname = $2 and application_name = $3', [
      pid,
      databaseName(databaseUrl),
      LISTENER_APPLICATION_NAME,
    ]);
    assert.equal(rows.length, 1, `the listener's backend pid is logged: ${line}`);
    return pid;
  }

  /**
   * Runs `deaf` with the server's listening backend stopped (SIGSTOP): the server hears no notification
   * meanwhile, and its connection stays open and silent, the way a revocation's NOTIFY is not yet read in
   * the milliseconds after its commit, or a backend hangs. Needs the right to signal PostgreSQL's
   * processes (root, or the postgres user, on the same machine); skipped with a message otherwise. The
   * backend is always let go again, and the server listens afresh on a new connection before the test goes
   * on, since it gives a silent one up.
   */
  async function withListenerStopped(t: TestContext, server: ServerProcess, deaf: () => Promise<void>) {
    const backend = await listenerBackend(server);
    const listening = count(server, LISTENING);
    if (!(await whileBackendStopped(t, backend, deaf))) return;
    await until('the server listens again', () => count(server, LISTENING) > listening);
  }

  /**
   * A revocation reaches the other instances as a NOTIFY that each reads from its socket within
   * milliseconds, not in step with the write's answer: a read already queued on B may be served before
   * B reads it. So B is asked again until it refuses; 2 s is only a hang guard, no timing is asserted.
   * Writes have no such window: the tests after the ones using this show them refused at the first try.
   */
  async function refusedSoon(server: ServerProcess, method: 'GET', path: string, token: string, refusal = 401) {
    for (const started = Date.now(); ; await sleep(5)) {
      const answer = await call(server, method, path, token);
      if (answer.statusCode === refusal) return answer;
      assert.equal(answer.statusCode, 200, answer.body);
      if (Date.now() - started > 2000) assert.fail(`${method} ${path} still served 2 s after the revocation`);
    }
  }

  test('instances started together migrated once and created one first admin', { skip: POSTGRES_ONLY }, async () => {
    const migrations = await sql<{ name: string }>`select name from kysely_migration`.execute(store.db);
    assert.deepEqual(migrations.rows.map((r) => r.name), ['001-initial', '002-oauth-providers', '003-oauth-token-state', '004-audit-events', '005-user-states-by-application']);
    assert.equal(await createRepositories(store.db).users.count(), 1);
    for (const server of [a, b, c]) {
      assert.doesNotMatch(server.output(), /First start|client_secret:/);
      assert.equal((await call(server, 'GET', '/readyz')).statusCode, 200);
      assert.equal(count(server, LISTENING), 1, 'each instance listens for revocations');
    }
  });

  test('a token from A works on B and C', { skip: POSTGRES_ONLY }, async () => {
    const token = await login(a);
    for (const server of [b, c]) {
      const response = await me(server, token);
      assert.equal(response.statusCode, 200, response.body);
      assertResponse('me', response);
      assert.equal(response.json().id, '1');
    }
  });

  test('the cache is on: a session removed without a notification is still answered by B and C', { skip: POSTGRES_ONLY }, async () => {
    // This is what the notifications below are needed for: a checked token is not looked up again.
    const token = await login(a);
    for (const server of [b, c]) assert.equal((await me(server, token)).statusCode, 200);
    await deleteSessionUnannounced(token);
    for (const server of [b, c]) assert.equal((await me(server, token)).statusCode, 200, 'answered from the cache');
    assert.equal((await me(a, token)).statusCode, 401, 'A never checked it, so it asks the database');
  });

  test('logout on A is refused on B and C within milliseconds, though both had cached the token', { skip: POSTGRES_ONLY }, async () => {
    const token = await login(a);
    for (const server of [b, c]) assert.equal((await me(server, token)).statusCode, 200);
    const logout = await call(a, 'DELETE', '/api/4.0/logout', token);
    assert.equal(logout.statusCode, 204);
    for (const server of [b, c, a]) {
      const refused = server === a ? await me(a, token) : await refusedSoon(server, 'GET', '/api/4.0/user', token);
      assert.equal(refused.statusCode, 401);
      assertResponse('me', refused);
      assert.equal(refused.json().message, 'Requires authentication.');
    }
  });

  test('a user disabled through A, or its credentials deleted: refused on B and C within milliseconds', { skip: POSTGRES_ONLY }, async () => {
    const admin = await login(a);
    const disabled = await newUser(admin, ['2']);
    const token = await login(b, disabled.creds);
    for (const server of [b, c]) assert.equal((await me(server, token)).statusCode, 200);
    assert.equal((await call(a, 'PATCH', `/api/4.0/users/${disabled.id}`, admin, { is_disabled: true })).statusCode, 200);
    for (const server of [b, c]) await refusedSoon(server, 'GET', '/api/4.0/user', token);

    const bereft = await newUser(admin, ['2']);
    const other = await login(c, bereft.creds);
    for (const server of [b, c]) assert.equal((await me(server, other)).statusCode, 200);
    const [credentials] = (await call(a, 'GET', `/api/4.0/users/${bereft.id}/credentials_api3`, admin)).json();
    assert.equal((await call(a, 'DELETE', `/api/4.0/users/${bereft.id}/credentials_api3/${credentials.id}`, admin)).statusCode, 204);
    for (const server of [b, c]) await refusedSoon(server, 'GET', '/api/4.0/user', other);
  });

  test('a role change through A applies on B and C within milliseconds', { skip: POSTGRES_ONLY }, async () => {
    const admin = await login(a);
    const user = await newUser(admin, ['1']);
    const token = await login(a, user.creds);
    for (const server of [b, c]) assert.equal((await call(server, 'GET', '/api/4.0/roles', token)).statusCode, 200);
    assert.equal((await call(a, 'PUT', `/api/4.0/users/${user.id}/roles`, admin, ['2'])).statusCode, 200);
    for (const server of [b, c]) await refusedSoon(server, 'GET', '/api/4.0/roles', token, 404);
  });

  /** An admin (the holder) logged in on B, and the login/{user_id} token it minted there for another admin. */
  async function sudoTokenThroughB() {
    const admin = await login(a);
    const holder = await newUser(admin, ['1']);
    const target = await newUser(admin, ['1']);
    const holderToken = await login(b, holder.creds);
    const minted = await call(b, 'POST', `/api/4.0/login/${target.id}`, holderToken);
    assert.equal(minted.statusCode, 200);
    const sudo = minted.json().access_token as string;
    auditSecret('multi-instance login/{user_id} token', sudo);
    return { admin, holder, sudo };
  }

  test('an admin demoted through A: its login/{user_id} token is refused on B and C within milliseconds', { skip: POSTGRES_ONLY }, async () => {
    // Across instances: the holder's right is read from the shared database.
    const { admin, holder, sudo } = await sudoTokenThroughB();
    // Admin power through every instance; each has now cached the token.
    for (const server of [a, b, c]) assert.equal((await call(server, 'GET', '/api/4.0/users', sudo)).statusCode, 200);

    assert.equal((await call(a, 'PUT', `/api/4.0/users/${holder.id}/roles`, admin, ['2'])).statusCode, 200);
    for (const server of [b, c]) {
      // Once a read is refused, nothing is served with the token there: a write least of all.
      await refusedSoon(server, 'GET', '/api/4.0/users', sudo);
      for (const [method, path, body] of [
        ['GET', '/api/4.0/users', undefined],
        ['PUT', `/api/4.0/users/${holder.id}/roles`, ['1']],
        ['POST', '/api/4.0/login/1', undefined],
      ] as const) {
        const refused = await call(server, method, path, sudo, body);
        assert.equal(refused.statusCode, 401, `${method} ${path}: ${refused.body}`);
      }
    }
    assert.deepEqual((await call(a, 'GET', `/api/4.0/users/${holder.id}`, admin)).json().role_ids, ['2'], 'the token did not restore its holder');
  });

  /** A create only an admin may make; `name` says which test tried it, to look for it afterwards. */
  const createApplication = (server: ServerProcess, token: string, name: string) =>
    call(server, 'POST', '/api/4.0/external_oauth_applications', token, { name, client_id: name, client_secret: 's', dialect_name: 'snowflake' });
  const applicationsNamed = async (admin: string, name: string) =>
    (await call(a, 'GET', `/api/4.0/external_oauth_applications?client_id=${encodeURIComponent(name)}`, admin)).json();

  // The write fence. Each test below lets B cache a token, stops B's listening backend so that B cannot
  // hear what A does next (the milliseconds before B reads a NOTIFY, stretched for as long as the test
  // needs), revokes on A, then writes through B with the token once: refused at the first try.

  test('logout on A: the first write on B with the token is refused, though B has not heard of it', { skip: POSTGRES_ONLY }, async (t) => {
    const admin = await login(a);
    const token = await login(a);
    assert.equal((await me(b, token)).statusCode, 200, 'cached on B');
    const name = `fence-logout-${randomBytes(4).toString('hex')}`;
    await withListenerStopped(t, b, async () => {
      assert.equal((await call(a, 'DELETE', '/api/4.0/logout', token)).statusCode, 204);
      const write = await createApplication(b, token, name);
      assert.equal(write.statusCode, 401, write.body);
      assert.deepEqual(await applicationsNamed(admin, name), []);
    });
  });

  test('a user disabled, or its credentials deleted, on A: the first write on B is refused', { skip: POSTGRES_ONLY }, async (t) => {
    const admin = await login(a);
    for (const revoke of ['disable the user', 'delete the credentials'] as const) {
      const user = await newUser(admin, ['1']);
      const token = await login(b, user.creds);
      assert.equal((await me(b, token)).statusCode, 200, 'cached on B');
      const [credentials] = (await call(a, 'GET', `/api/4.0/users/${user.id}/credentials_api3`, admin)).json();
      const name = `fence-${revoke.replaceAll(' ', '-')}-${randomBytes(4).toString('hex')}`;
      await withListenerStopped(t, b, async () => {
        const revoked =
          revoke === 'disable the user'
            ? await call(a, 'PATCH', `/api/4.0/users/${user.id}`, admin, { is_disabled: true })
            : await call(a, 'DELETE', `/api/4.0/users/${user.id}/credentials_api3/${credentials.id}`, admin);
        assert.ok([200, 204].includes(revoked.statusCode), revoked.body);
        const write = await createApplication(b, token, name);
        assert.equal(write.statusCode, 401, `${revoke}: ${write.body}`);
        assert.deepEqual(await applicationsNamed(admin, name), [], revoke);
      });
    }
  });

  test('an admin made a plain user on A: its first admin write on B is refused', { skip: POSTGRES_ONLY }, async (t) => {
    const admin = await login(a);
    const user = await newUser(admin, ['1']);
    const token = await login(a, user.creds);
    assert.equal((await call(b, 'GET', '/api/4.0/roles', token)).statusCode, 200, 'cached on B as an admin');
    const name = `fence-role-${randomBytes(4).toString('hex')}`;
    await withListenerStopped(t, b, async () => {
      assert.equal((await call(a, 'PUT', `/api/4.0/users/${user.id}/roles`, admin, ['2'])).statusCode, 200);
      const write = await createApplication(b, token, name);
      assert.equal(write.statusCode, 404, write.body);
      assert.deepEqual(await applicationsNamed(admin, name), []);
    });
  });

  test('a login/{user_id} holder demoted on A: the token cannot restore its holder through B', { skip: POSTGRES_ONLY }, async (t) => {
    const { admin, holder, sudo } = await sudoTokenThroughB();
    assert.equal((await call(b, 'GET', '/api/4.0/users', sudo)).statusCode, 200, 'cached on B');
    await withListenerStopped(t, b, async () => {
      assert.equal((await call(a, 'PUT', `/api/4.0/users/${holder.id}/roles`, admin, ['2'])).statusCode, 200);
      const write = await call(b, 'PUT', `/api/4.0/users/${holder.id}/roles`, sudo, ['1']);
      assert.equal(write.statusCode, 401, write.body);
      assert.deepEqual((await call(a, 'GET', `/api/4.0/users/${holder.id}`, admin)).json().role_ids, ['2'], 'the token did not restore its holder');
    });
  });

  test('a listening backend that stops answering is given up within seconds: then a revoked token is refused on reads too', { skip: POSTGRES_ONLY }, async (t) => {
    const token = await login(a);
    assert.equal((await me(b, token)).statusCode, 200, 'cached on B');
    const suspended = count(b, SUSPENDED);
    await withListenerStopped(t, b, async () => {
      assert.equal((await call(a, 'DELETE', '/api/4.0/logout', token)).statusCode, 204);
      // Reads are not fenced: until B gives the silent connection up it may still answer from its cache.
      // The heartbeat bounds that to about 2 s (a round trip a second, 1 s to answer); 6 s is that bound
      // with room for a loaded machine, and below the 10 s any silent connection took to be given up before.
      await until('B gives its silent listening connection up', () => count(b, SUSPENDED) > suspended, 6_000);
      assert.equal((await me(b, token)).statusCode, 401);
    });
  });

  test('a change rolled back notifies nothing: the NOTIFY of a transaction that fails never arrives', { skip: POSTGRES_ONLY }, async () => {
    const sentinel = await login(a);
    const later = await login(a);
    for (const token of [sentinel, later]) assert.equal((await me(b, token)).statusCode, 200);
    await deleteSessionUnannounced(sentinel);
    // The services notify inside the write's transaction; this one sends "anything changed", then fails.
    await assert.rejects(
      store.db.transaction().execute(async (tx) => {
        await sql`select pg_notify(${AUTH_CHANNEL}, ${'*'})`.execute(tx);
        throw new Error('rolled back');
      }),
      /rolled back/,
    );
    // Notifications arrive in commit order: once B has heard of this later logout, it would have heard the other.
    assert.equal((await call(a, 'DELETE', '/api/4.0/logout', later)).statusCode, 204);
    assert.equal((await me(b, later)).statusCode, 401);
    assert.equal((await me(b, sentinel)).statusCode, 200, 'B kept its cache: nothing told it to drop everything');
  });

  test('the listening connection dropped: the cache is emptied, and a revocation while it is down is honoured', { skip: POSTGRES_ONLY }, async () => {
    const stale = await login(a);
    const revoked = await login(a);
    for (const token of [stale, revoked]) assert.equal((await me(b, token)).statusCode, 200);
    await deleteSessionUnannounced(stale);
    assert.equal((await me(b, stale)).statusCode, 200, 'cached on B');

    const suspended = count(b, SUSPENDED);
    const listening = count(b, LISTENING);
    const killed = await adminQuery(
      'select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and application_name = $2',
      [databaseName(databaseUrl), LISTENER_APPLICATION_NAME],
    );
    assert.equal(killed.length, 3, 'one listener per instance');
    await until('B suspends its cache', () => count(b, SUSPENDED) > suspended);
    // Emptied when the listener went: the session removed without a notification is now seen.
    assert.equal((await me(b, stale)).statusCode, 401);
    // While B cannot hear: B checks the token, A logs it out (the NOTIFY reaches no listener of B's), B asks again.
    assert.equal((await me(b, revoked)).statusCode, 200);
    assert.equal((await call(a, 'DELETE', '/api/4.0/logout', revoked)).statusCode, 204);
    assert.equal((await me(b, revoked)).statusCode, 401);
    assert.equal(count(b, LISTENING), listening, 'all of the above happened while B was not listening');

    // Back, and on again: B listens anew and caches again.
    await until('B listens again', () => count(b, LISTENING) > listening);
    const fresh = await login(a);
    assert.equal((await me(b, fresh)).statusCode, 200);
    await deleteSessionUnannounced(fresh);
    assert.equal((await me(b, fresh)).statusCode, 200, 'cached again');
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
