import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN } from '../helpers/app.ts';
import { POSTGRES_ONLY, testDatabaseUrl } from '../helpers/database.ts';
import { startServer, type ServerProcess } from '../helpers/server-process.ts';
import { startTestProvider, type TestProvider } from '../helpers/oidc-provider.ts';
import { PUBLIC_URL, accessTokenPath, auditProviderTokens, connectUser, createApplication, httpCall, newClient, userStatePath, waitFor, type Call } from '../helpers/broker.ts';

/**
 * Single flight across instances: three real server processes on one PostgreSQL database, 200 concurrent
 * access_token calls for one expired token spread over them, against the real authorization server with
 * rotating refresh tokens. Exactly one refresh may reach the provider (a second would present a spent
 * refresh token, and oidc-provider would revoke the whole grant), and every caller gets the same token.
 *
 * PostgreSQL only (POSTGRES_ONLY): several processes on one SQLite file is not a supported deployment.
 */
describe('access_token single flight across three instances on one PostgreSQL', () => {
  let op: TestProvider;
  let servers: ServerProcess[] = [];
  let token: string;
  const client = newClient();

  const callOn = (server: ServerProcess): Call => httpCall(() => server.baseUrl);

  before(async () => {
    if (POSTGRES_ONLY) return;
    // 10 s tokens: the 200 calls of a round, on a small shared machine, all fall well within one lifetime.
    op = await startTestProvider({ clients: [client], accessTokenTtl: 10 });
    auditProviderTokens(op);
    const env = { DATABASE_URL: (await testDatabaseUrl())!, EOA_PUBLIC_URL: PUBLIC_URL, EOA_REFRESH_MARGIN_S: '1' };
    // One first, so the first admin is created once; then two more on the same database.
    servers = [await startServer({ env })];
    servers.push(...(await Promise.all([startServer({ env }), startServer({ env })])));
    const login = await fetch(`${servers[0].baseUrl}/api/4.0/login`, { method: 'POST', body: new URLSearchParams(ADMIN) });
    token = ((await login.json()) as { access_token: string }).access_token;
    await createApplication(callOn(servers[0]), token, op, client);
    // Started on the first instance, completed on the second.
    const a = callOn(servers[0]);
    const b = callOn(servers[1]);
    await connectUser(async (method, path, bearer, body) => (path.startsWith('/external_oauth/redirect') ? b : a)(method, path, bearer, body), op, client.client_id, token);
  });
  after(async () => {
    if (POSTGRES_ONLY) return;
    await Promise.all(servers.map((s) => s.stop()));
    await op?.stop();
  });

  const statusOf = async () => (await callOn(servers[2])('GET', userStatePath(client.client_id, '1'), token)).json();

  for (const round of [1, 2]) {
    test(`round ${round}: 200 concurrent reads over three processes → one refresh, no revoked grant, one token for all`, { skip: POSTGRES_ONLY }, async () => {
      await waitFor(async () => (await statusOf()).status === 'expired', 20_000, 'the access token to expire');
      const before = { success: op.count('grant.success'), consumed: op.count('refresh_token.consumed'), revoked: op.count('grant.revoked') };
      const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => callOn(servers[i % 3])('POST', accessTokenPath(client.client_id), token, {})));
      assert.deepEqual([...new Set(answers.map((a) => a.status))], [200], answers.find((a) => a.status !== 200)?.body);
      assert.equal(new Set(answers.map((a) => a.json().access_token)).size, 1, 'all 200 callers got the same token');
      assert.equal(op.count('grant.success') - before.success, 1, 'exactly one refresh reached the provider');
      assert.equal(op.count('refresh_token.consumed') - before.consumed, 1);
      assert.equal(op.count('grant.revoked'), before.revoked, 'no grant was revoked');
      const state = await statusOf();
      assert.equal(state.status, 'active');
      assert.equal(state.last_error, null);
    });
  }
});
