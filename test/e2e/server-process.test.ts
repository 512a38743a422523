import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { ADMIN } from '../helpers/app.ts';
import { assertSchema } from '../helpers/contract.ts';
import { startServer, type ServerProcess } from '../helpers/server-process.ts';
import { lookerSdk } from '../helpers/looker-sdk.ts';
import type { NodeSession } from '@looker/sdk-node';
import { SQLITE_FILE_NAME } from '../../src/store/database.ts';

/** Polls the process output (bounded) until `pattern` shows up; no timing is asserted. */
async function waitForOutput(server: ServerProcess, pattern: RegExp) {
  for (let i = 0; i < 500; i++) {
    if (pattern.test(server.output())) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.fail(`never saw ${pattern} in:\n${server.output()}`);
}

describe('the official Looker SDK against the real server process', () => {
  let server: ServerProcess;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    assert.equal(await server.stop(), 0);
  });

  test('login, me, users, API credentials, a second user, 404 for non-admins, logout, then 401', async () => {
    const admin = lookerSdk(server.baseUrl, ADMIN);
    const me = await admin.ok(admin.me());
    assert.equal(me.id, '1');
    assert.deepEqual(me.role_ids, ['1']);
    assertSchema('User', me);

    const user = await admin.ok(admin.create_user({ first_name: 'Grace', last_name: 'Hopper' }));
    assertSchema('User', user);
    assert.equal(user.display_name, 'Grace Hopper');
    const roles = await admin.ok(admin.set_user_roles(user.id!, ['2']));
    assert.deepEqual(
      roles.map((r) => r.name),
      ['User'],
    );

    const creds = await admin.ok(admin.create_user_credentials_api3(user.id!));
    assertSchema('CreateCredentialsApi3', creds);
    assert.ok(creds.client_id && creds.client_secret);
    const spare = await admin.ok(admin.create_user_credentials_api3(user.id!));
    let listed = await admin.ok(admin.all_user_credentials_api3s(user.id!));
    assert.deepEqual(
      listed.map((c) => c.id),
      [creds.id, spare.id],
    );
    for (const c of listed) {
      assertSchema('CredentialsApi3', c);
      assert.ok(!('client_secret' in c));
    }
    assert.equal((await admin.ok(admin.user_credentials_api3(user.id!, spare.id!))).client_id, spare.client_id);
    await admin.ok(admin.delete_user_credentials_api3(user.id!, spare.id!));
    listed = await admin.ok(admin.all_user_credentials_api3s(user.id!));
    assert.deepEqual(
      listed.map((c) => c.id),
      [creds.id],
    );

    const grace = lookerSdk(server.baseUrl, { client_id: creds.client_id!, client_secret: creds.client_secret! });
    const graceMe = await grace.ok(grace.me());
    assert.equal(graceMe.id, user.id);
    await assert.rejects(grace.ok(grace.all_users({})), (error: Error) => {
      assert.equal(error.message, 'Not found');
      return true;
    });

    const oldToken = (grace.authSession as NodeSession).activeToken.access_token;
    assert.ok(oldToken);
    assert.equal(await grace.authSession.logout(), true);
    const response = await fetch(`${server.baseUrl}/api/4.0/user`, { headers: { authorization: `Bearer ${oldToken}` } });
    assert.equal(response.status, 401);
    const body = await response.json();
    assertSchema('Error', body);
    assert.equal(body.message, 'Requires authentication.');

    // Logged out is not locked out: the SDK logs in again on its next call.
    assert.equal((await grace.ok(grace.me())).id, user.id);

    const updated = await admin.ok(admin.update_user(user.id!, { is_disabled: true }));
    assert.equal(updated.is_disabled, true);
    await assert.rejects(grace.ok(grace.me()));
    await admin.ok(admin.delete_user(user.id!));
    await assert.rejects(admin.ok(admin.user(user.id!)), /Not found/);
    await admin.authSession.logout();
  });

  test('path parameters the SDK percent-encodes answer 404, never 500', async () => {
    const admin = lookerSdk(server.baseUrl, ADMIN);
    for (const id of ['a/b c', '../1', 'ü✓', '1 OR 1=1', '%']) {
      await assert.rejects(admin.ok(admin.user(id)), /Not found/, id);
    }
    await admin.authSession.logout();
  });
});

describe('first start without EOA_BOOTSTRAP_*', () => {
  test('the generated credentials are printed on stdout in the banner alone, work, and are not printed again', async () => {
    const env = { EOA_BOOTSTRAP_CLIENT_ID: '', EOA_BOOTSTRAP_CLIENT_SECRET: '' };
    const first = await startServer({ env });
    const output = first.output();
    assert.equal(await first.stop(), 0);
    const clientId = /client_id:\s+(\S+)/.exec(output)?.[1];
    const clientSecret = /client_secret:\s+(\S+)/.exec(output)?.[1];
    assert.ok(clientId && clientSecret, output);
    // In the banner only: its credentials line and the login command to paste; never in a log line.
    const withSecret = output.split('\n').filter((line) => line.includes(clientSecret));
    assert.equal(withSecret.length, 2, output);
    assert.match(withSecret[0], /client_secret:/);
    assert.match(withSecret[1], /curl .*\/api\/4\.0\/login/);
    assert.equal(output.split(clientSecret).length - 1, 2, 'once on each of those lines');
    assert.ok(output.includes(`${first.baseUrl}/api/4.0/login`), 'the instructions name the real address');

    // The same store: on PostgreSQL, first.env carries the database the first start used.
    const second = await startServer({ env: first.env, dataDir: first.dataDir });
    try {
      assert.ok(!second.output().includes(clientSecret));
      assert.doesNotMatch(second.output(), /client_secret:|First start/);
      const sdk = lookerSdk(second.baseUrl, { client_id: clientId, client_secret: clientSecret });
      const me = await sdk.ok(sdk.me());
      assert.equal(me.id, '1');
      assert.deepEqual(me.role_ids, ['1']);
      const users = await sdk.ok(sdk.all_users({}));
      assert.equal(users.length, 1, 'no second admin');
      await sdk.authSession.logout();
    } finally {
      assert.equal(await second.stop(), 0);
    }
  });
});

describe('shutdown', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    test(`${signal} lets an in-flight request finish, closes the database and exits 0`, async () => {
      const server = await startServer();
      const login = await fetch(`${server.baseUrl}/api/4.0/login`, { method: 'POST', body: new URLSearchParams(ADMIN) });
      const { access_token: token } = await login.json();
      const body = JSON.stringify({ first_name: 'In flight' });
      const { port } = new URL(server.baseUrl);

      // Expect: 100-continue makes the server confirm it has taken the request (headers routed) before
      // the body is sent, so the signal lands while the request is provably in flight.
      const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
        const request = http.request({
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/api/4.0/users',
          headers: {
            authorization: `Bearer ${token}`,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            expect: '100-continue',
          },
        });
        request.on('continue', async () => {
          server.child.kill(signal);
          await waitForOutput(server, /shutting down: draining in-flight requests/);
          request.end(body);
        });
        request.on('response', (res) => {
          let text = '';
          res.on('data', (chunk) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        });
        request.on('error', reject);
        request.flushHeaders();
      });

      const answer = await response;
      assert.equal(answer.status, 200, answer.body);
      assert.equal(JSON.parse(answer.body).first_name, 'In flight');
      assert.equal(await server.stop(), 0);
      if (!server.env.DATABASE_URL) {
        // SQLite removes the write-ahead log when the last connection closes cleanly.
        assert.equal(fs.existsSync(path.join(server.dataDir, `${SQLITE_FILE_NAME}-wal`)), false, 'the database was closed');
      }
    });
  }
});
