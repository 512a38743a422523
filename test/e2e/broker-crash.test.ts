import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeParam } from '@looker/sdk-rtl';
import { ADMIN } from '../helpers/app.ts';
import { lookerSdk } from '../helpers/looker-sdk.ts';
import { auditExchange } from '../helpers/audit.ts';
import { testDatabaseUrl } from '../helpers/database.ts';
import { startServer, type ServerProcess } from '../helpers/server-process.ts';
import { startTestProvider, type TestProvider } from '../helpers/oidc-provider.ts';
import { PUBLIC_URL, accessTokenPath, auditProviderTokens, connectUser, createApplication, httpCall, newClient, userStatePath, waitFor, type Call } from '../helpers/broker.ts';

/**
 * A service process SIGKILLed in the middle of a refresh, then started again on the same store (either
 * engine). The refresh lease it held runs out (2 × EOA_PROVIDER_TIMEOUT_MS + 5 s = 7 s here) and the next
 * caller takes it over with the stored refresh token. What happens then depends on how far the killed
 * refresh got, and both outcomes are shown:
 *   - killed before the provider handled the request: the stored refresh token is unspent, the retry
 *     succeeds, the user notices nothing;
 *   - killed after the provider rotated the token but before the answer was stored: the stored token is
 *     spent, the provider refuses it (and, as Snowflake and Databricks do, revokes the grant): the state
 *     becomes needs_reauth with last_error `refresh_interrupted`, and the user must connect again. No
 *     implementation can do better without the provider's help: the new refresh token existed only in
 *     the memory of the killed process.
 */
describe('SIGKILL in the middle of a refresh, then a restart', () => {
  let op: TestProvider;
  let server: ServerProcess;
  let env: Record<string, string>;
  let token: string;
  const client = newClient();
  /** While set, the provider handles a token request and then holds its answer this long. */
  let slowAnswerMs = 0;

  const call: Call = httpCall(() => server.baseUrl);
  const read = () => call('POST', accessTokenPath(client.client_id), token, {});
  const status = async () => (await call('GET', userStatePath(client.client_id, '1'), token)).json();

  before(async () => {
    op = await startTestProvider({ clients: [client], accessTokenTtl: 2 });
    auditProviderTokens(op);
    op.provider.use(async (ctx, next) => {
      await next();
      if (ctx.path === '/token' && slowAnswerMs > 0) await new Promise((resolve) => setTimeout(resolve, slowAnswerMs));
    });
    const databaseUrl = await testDatabaseUrl();
    env = { EOA_PUBLIC_URL: PUBLIC_URL, EOA_REFRESH_MARGIN_S: '1', EOA_PROVIDER_TIMEOUT_MS: '1000', ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}) };
    server = await startServer({ env });
    const login = await fetch(`${server.baseUrl}/api/4.0/login`, { method: 'POST', body: new URLSearchParams(ADMIN) });
    token = ((await login.json()) as { access_token: string }).access_token;
    await createApplication(call, token, op, client);
    await connectUser(call, op, client.client_id, token);
  });
  after(async () => {
    await server?.stop();
    await op?.stop();
  });

  /** Starts a refresh, kills the process once `reached()` says how far it got, and starts a new one on the same store. */
  async function killMidRefresh(reached: () => boolean) {
    await waitFor(async () => (await status()).status === 'expired', 10_000, 'the access token to expire');
    const inFlight = read().catch(() => null);
    await waitFor(async () => reached(), 5_000, 'the refresh to reach the point of the kill');
    await server.kill();
    await inFlight;
    server = await startServer({ env, dataDir: server.dataDir });
  }

  test('the official Looker SDK reads a token as docs/tokens.md shows', async () => {
    const sdk = lookerSdk(server.baseUrl, ADMIN);
    try {
      const answer = await sdk.ok(
        sdk.post<{ access_token: string; token_type: string; expires_at: string; scope: string | null }, Error>(
          `/external_oauth_applications/${encodeParam(client.client_id)}/access_token`, undefined, {},
        ),
      );
      auditExchange({ method: 'POST', url: accessTokenPath(client.client_id) }, { statusCode: 200, body: JSON.stringify(answer) });
      assert.equal(answer.token_type.toLowerCase(), 'bearer');
      assert.ok(answer.access_token.length > 20);
      assert.ok(Date.parse(answer.expires_at) > Date.now());
    } finally {
      await sdk.authSession.logout();
    }
  });

  test('killed before the provider handled the refresh: after the lease runs out, the next call succeeds', async () => {
    const before = { success: op.count('grant.success'), revoked: op.count('grant.revoked') };
    // The hanging provider holds the refresh request unanswered and never handles it; the process is killed
    // a moment after sending it.
    op.hang(true);
    const started = Date.now();
    try {
      await killMidRefresh(() => Date.now() - started > 300);
    } finally {
      op.hang(false);
    }
    const answer = await read();
    assert.equal(answer.status, 200, answer.body);
    assert.equal(op.count('grant.success'), before.success + 1, 'one refresh, by the new process');
    assert.equal(op.count('grant.revoked'), before.revoked);
    assert.equal((await status()).status, 'active');
  });

  test('killed after the provider rotated the token: needs_reauth with last_error refresh_interrupted, then a reconnect works', async () => {
    const consumed = op.count('refresh_token.consumed');
    slowAnswerMs = 3000;
    try {
      await killMidRefresh(() => op.count('refresh_token.consumed') > consumed);
    } finally {
      slowAnswerMs = 0;
    }
    const refused = await read();
    assert.equal(refused.status, 409, refused.body);
    assert.match(refused.json().message, /interrupted/);
    const state = await status();
    assert.equal(state.status, 'needs_reauth');
    assert.equal(state.last_error, 'refresh_interrupted');

    await connectUser(call, op, client.client_id, token);
    assert.equal((await read()).status, 200);
    assert.equal((await status()).status, 'active');
  });
});
