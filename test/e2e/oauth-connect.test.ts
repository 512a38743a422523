import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { ADMIN, TEST_MASTER_KEY, makeDataDir } from '../helpers/app.ts';
import { auditResponse, auditSecret } from '../helpers/audit.ts';
import { POSTGRES_ONLY } from '../helpers/database.ts';
import { lookerSdk } from '../helpers/looker-sdk.ts';
import { startServer, type ServerProcess } from '../helpers/server-process.ts';
import { startTestProvider, type TestProvider } from '../helpers/oidc-provider.ts';
import { startSnowflakeStandIn, type SnowflakeStandIn } from '../helpers/snowflake-stand-in.ts';
import { openStore, type Store } from '../../src/store/database.ts';
import { parseMasterKeys, SecretBox } from '../../src/crypto/secret-box.ts';
import { userStateTokenAad } from '../../src/services/user-states.ts';
import { codeVerifierAad, stateHash } from '../../src/oauth/connect.ts';
import { refreshGrant } from '../../src/oauth/outbound.ts';
import { freePort } from '../helpers/free-port.ts';

/**
 * Connecting a user to an external system, end to end: the real service process, the official Looker SDK
 * creating the applications (the provider fields pass through it), a real authorization server
 * (oidc-provider) whose login and consent the test completes headlessly, and the browser's last hop
 * (the provider's redirect to /external_oauth/redirect) made with fetch. Runs on SQLite, and on
 * PostgreSQL with TEST_DATABASE_URL.
 */
const secretBox = new SecretBox(parseMasterKeys(TEST_MASTER_KEY));

const secret = () => randomBytes(24).toString('base64url');

interface Harness {
  server: ServerProcess;
  store: Store;
  publicUrl: string;
  token: string;
}

async function login(baseUrl: string, creds: { client_id: string; client_secret: string }): Promise<string> {
  const response = await fetch(`${baseUrl}/api/4.0/login`, { method: 'POST', body: new URLSearchParams(creds) });
  const body = await response.json();
  return body.access_token;
}

/** POST …/authorize as the given user; the answer's state is registered with the secret audit. */
async function authorize(baseUrl: string, token: string, clientId: string, body: object = {}) {
  const url = `${baseUrl}/api/4.0/external_oauth_applications/${encodeURIComponent(clientId)}/authorize`;
  const response = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await response.text();
  const responseId = auditResponse('POST', url, response.status, text);
  const json = JSON.parse(text);
  if (response.status === 200) {
    const state = new URL(json.authorization_url).searchParams.get('state')!;
    auditSecret('oauth state', state, { kind: 'response', responseId });
  }
  return { status: response.status, headers: response.headers, body: json };
}

/** The browser's last hop: the provider's redirect, followed to the service (not beyond). */
async function callback(baseUrl: string, back: URL) {
  const code = back.searchParams.get('code');
  if (code) auditSecret('authorization code', code);
  const response = await fetch(`${baseUrl}${back.pathname}${back.search}`, { redirect: 'manual' });
  const text = await response.text();
  auditResponse('GET', `${baseUrl}${back.pathname}`, response.status, text);
  return { status: response.status, headers: response.headers, text };
}

async function storedTokens(store: Store, userId: string, appId: string) {
  const row = await store.db
    .selectFrom('oauth_application_user_states')
    .selectAll()
    .where('user_id', '=', userId)
    .where('oauth_application_id', '=', appId)
    .executeTakeFirst();
  if (!row) return null;
  const access = secretBox.open(row.access_token_sealed, userStateTokenAad(userId, appId, 'access_token'));
  const refresh = row.refresh_token_sealed === null ? null : secretBox.open(row.refresh_token_sealed, userStateTokenAad(userId, appId, 'refresh_token'));
  // The service stored these: from now on they may appear nowhere (responses, logs, files).
  auditSecret('stored access_token', access);
  auditSecret('stored refresh_token', refresh);
  return { access, refresh, row };
}

async function pendingCount(store: Store): Promise<number> {
  const rows = await store.db.selectFrom('oauth_pending_authorizations').select('state_hash').execute();
  return rows.length;
}

function assertPage(response: { status: number; headers: Headers; text: string }, status: number, title: string) {
  assert.equal(response.status, status, response.text.slice(0, 300));
  assert.match(response.headers.get('content-type') ?? '', /^text\/html/);
  assert.match(response.text, new RegExp(`<h1>${title}</h1>`));
  assert.match(response.headers.get('content-security-policy') ?? '', /default-src 'none'/);
  assert.equal(response.headers.get('cache-control'), 'no-store');
  assert.equal(response.headers.get('referrer-policy'), 'no-referrer');
  assert.equal(response.headers.get('x-frame-options'), 'DENY');
}

describe('connecting a user to an external system (authorization code + PKCE), end to end', () => {
  let h: Harness;
  let op: TestProvider;
  let other: TestProvider;
  let snowflake: SnowflakeStandIn;
  const client = { client_id: 'warehouse', client_secret: secret() };
  const second = { client_id: 'warehouse-2', client_secret: secret() };
  const third = { client_id: 'explicit', client_secret: secret() };
  let apps: Record<'main' | 'wrongSecret' | 'snowflake' | 'explicit', { id: string; client_id: string }>;
  let userId: string;

  before(async () => {
    const port = await freePort();
    const publicUrl = `http://127.0.0.1:${port}`;
    const redirect = `${publicUrl}/external_oauth/redirect`;
    op = await startTestProvider({ clients: [client, second, third].map((c) => ({ ...c, redirect_uris: [redirect] })) });
    other = await startTestProvider({ clients: [{ ...client, redirect_uris: [redirect] }] });
    snowflake = await startSnowflakeStandIn();
    const server = await startServer({
      env: { PORT: String(port), EOA_PUBLIC_URL: publicUrl, EOA_PROVIDER_TIMEOUT_MS: '1500', EOA_RETURN_TO_ORIGINS: 'https://bi.example.com' },
    });
    const databaseUrl = server.env.DATABASE_URL ?? null;
    const store = openStore({ databaseUrl, dataDir: server.dataDir, database: { poolMax: 2, statementTimeoutMs: 15_000 } });
    h = { server, store, publicUrl, token: await login(server.baseUrl, ADMIN) };

    // The official SDK creates the applications; the provider fields are ours and pass through it.
    const sdk = lookerSdk(server.baseUrl, ADMIN);
    const create = async (body: Record<string, unknown>) => {
      const created = (await sdk.ok(sdk.create_external_oauth_application(body as never))) as unknown as Record<string, string>;
      for (const [k, v] of Object.entries(body)) if (k !== 'client_secret') assert.equal(created[k], v, `${k} comes back`);
      assert.equal('client_secret' in created, false);
      return { id: created.id, client_id: created.client_id };
    };
    apps = {
      main: await create({ name: 'Warehouse (OIDC)', client_id: client.client_id, client_secret: client.client_secret, issuer: op.issuer, scopes: 'refresh_token' }),
      wrongSecret: await create({ name: 'Warehouse, wrong secret', client_id: second.client_id, client_secret: secret(), issuer: op.issuer, scopes: 'refresh_token' }),
      snowflake: await create({ name: 'Snowflake', client_id: 'snowflake-client', client_secret: secret(), dialect_name: 'snowflake', provider_url: snowflake.accountUrl }),
      explicit: await create({
        name: 'Warehouse (explicit endpoints)', client_id: third.client_id, client_secret: third.client_secret,
        authorization_endpoint: `${op.issuer}/auth`, token_endpoint: `${op.issuer}/token`, scopes: 'refresh_token',
      }),
    };
    const me = await sdk.ok(sdk.me());
    userId = me.id!;
    await sdk.authSession.logout();
  });

  after(async () => {
    await h?.store.close();
    await h?.server.stop();
    await op?.stop();
    await other?.stop();
    await snowflake?.stop();
  });

  /** authorize → the provider (login, consent) → the callback; returns the callback's answer. */
  async function connect(app: { client_id: string }, options: { body?: object; decision?: 'allow' | 'deny'; provider?: TestProvider } = {}) {
    const started = await authorize(h.server.baseUrl, h.token, app.client_id, options.body);
    assert.equal(started.status, 200, JSON.stringify(started.body));
    assert.equal(started.headers.get('cache-control'), 'no-store');
    const back = await (options.provider ?? op).authorize(started.body.authorization_url, { decision: options.decision ?? 'allow' });
    return { started, back, answer: await callback(h.server.baseUrl, back) };
  }

  test('happy path: connected page, tokens sealed as the user state, usable at the provider; a second connect replaces them', async () => {
    const grants = op.count('grant.success');
    const { started, back, answer } = await connect(apps.main);
    const url = new URL(started.body.authorization_url);
    assert.equal(url.origin, op.issuer);
    assert.equal(url.searchParams.get('code_challenge_method'), 'S256');
    assert.equal(url.searchParams.get('redirect_uri'), `${h.publicUrl}/external_oauth/redirect`);
    assert.ok(Date.parse(started.body.expires_at) > Date.now());
    assert.equal(back.searchParams.get('iss'), op.issuer);
    assertPage(answer, 200, 'Connected');
    assert.match(answer.text, /Warehouse \(OIDC\)/);
    assert.equal(op.count('grant.success'), grants + 1);
    const first = await storedTokens(h.store, userId, apps.main.id);
    assert.ok(first?.refresh, 'a refresh token is stored');
    assert.ok(!first.row.access_token_sealed.includes(first.access), 'sealed at rest');
    assert.equal(await pendingCount(h.store), 0, 'the pending authorization is consumed');
    // The stored refresh token is the provider's own: it refreshes there.
    const provider = { issuer: op.issuer, issRequired: true, authorizationEndpoint: `${op.issuer}/auth`, tokenEndpoint: `${op.issuer}/token`, revocationEndpoint: null, scopes: null, tokenEndpointAuthMethod: 'client_secret_basic' as const, authorizationParams: {}, allowInsecure: true };
    const refreshed = await refreshGrant(provider, { clientId: client.client_id, clientSecret: client.client_secret }, first.refresh!, { timeoutMs: 5000, maxResponseBytes: 65_536 });
    auditSecret('refreshed access_token', refreshed.access_token);
    auditSecret('refreshed refresh_token', refreshed.refresh_token);

    const again = await connect(apps.main);
    assertPage(again.answer, 200, 'Connected');
    const replaced = await storedTokens(h.store, userId, apps.main.id);
    assert.notEqual(replaced!.access, first.access);
    assert.notEqual(replaced!.refresh, first.refresh);
    const rows = await h.store.db.selectFrom('oauth_application_user_states').select('user_id').where('oauth_application_id', '=', apps.main.id).execute();
    assert.equal(rows.length, 1, 'one state per user and application');
  });

  test('a replayed callback is refused and changes nothing', async () => {
    const { back, answer } = await connect(apps.main);
    assertPage(answer, 200, 'Connected');
    const before = await storedTokens(h.store, userId, apps.main.id);
    const replay = await callback(h.server.baseUrl, back);
    assertPage(replay, 400, 'Sign-in link already used');
    assert.deepEqual((await storedTokens(h.store, userId, apps.main.id))!.access, before!.access);
  });

  test('an expired state is refused', async () => {
    const started = await authorize(h.server.baseUrl, h.token, apps.main.client_id);
    const state = new URL(started.body.authorization_url).searchParams.get('state')!;
    const back = await op.authorize(started.body.authorization_url);
    await h.store.db.updateTable('oauth_pending_authorizations').set({ expires_at: new Date(Date.now() - 1000).toISOString() }).where('state_hash', '=', stateHash(state)).execute();
    const grants = op.count('grant.success');
    assertPage(await callback(h.server.baseUrl, back), 400, 'Sign-in took too long');
    assert.equal(op.count('grant.success'), grants, 'no code exchange');
  });

  test('an unknown or missing state, and a state given twice, are refused', async () => {
    assertPage(await callback(h.server.baseUrl, new URL(`${h.publicUrl}/external_oauth/redirect?code=abc&state=${secret()}`)), 400, 'Sign-in link already used');
    assertPage(await callback(h.server.baseUrl, new URL(`${h.publicUrl}/external_oauth/redirect?code=abc`)), 400, 'Not a sign-in answer');
    assertPage(await callback(h.server.baseUrl, new URL(`${h.publicUrl}/external_oauth/redirect?state=a&state=b`)), 400, 'Not a sign-in answer');
  });

  test('a wrong PKCE verifier is refused by the provider (invalid_grant); a missing challenge is refused at authorization', async () => {
    const before = await storedTokens(h.store, userId, apps.main.id);
    const started = await authorize(h.server.baseUrl, h.token, apps.main.client_id);
    const state = new URL(started.body.authorization_url).searchParams.get('state')!;
    const hash = stateHash(state);
    const wrong = randomBytes(32).toString('base64url');
    auditSecret('a wrong verifier', wrong);
    await h.store.db.updateTable('oauth_pending_authorizations').set({ code_verifier_sealed: secretBox.seal(wrong, codeVerifierAad(hash)) }).where('state_hash', '=', hash).execute();
    const back = await op.authorize(started.body.authorization_url);
    assertPage(await callback(h.server.baseUrl, back), 400, 'Sign-in could not be completed');

    const started2 = await authorize(h.server.baseUrl, h.token, apps.main.client_id);
    const stripped = new URL(started2.body.authorization_url);
    stripped.searchParams.delete('code_challenge');
    stripped.searchParams.delete('code_challenge_method');
    const back2 = await op.authorize(stripped.href);
    assert.equal(back2.searchParams.get('error'), 'invalid_request');
    assertPage(await callback(h.server.baseUrl, back2), 502, 'The provider refused the request');
    assert.equal((await storedTokens(h.store, userId, apps.main.id))!.access, before!.access, 'nothing written');
  });

  test('iss mix-up: an answer from another provider carrying our state is refused before any code exchange', async () => {
    const started = await authorize(h.server.baseUrl, h.token, apps.main.client_id);
    // The attacker's provider answers in place of the real one, with the victim's state.
    const forged = new URL(started.body.authorization_url.replace(op.issuer, other.issuer));
    const back = await other.authorize(forged.href);
    assert.equal(back.searchParams.get('iss'), other.issuer);
    const grants = [op.count('grant.success'), other.count('grant.success')];
    assertPage(await callback(h.server.baseUrl, back), 400, 'Answer from the wrong provider');
    assert.deepEqual([op.count('grant.success'), other.count('grant.success')], grants, 'the code went to no token endpoint');
    // Without iss, from a provider whose metadata says it always sends one: refused too.
    const started2 = await authorize(h.server.baseUrl, h.token, apps.main.client_id);
    const back2 = await op.authorize(started2.body.authorization_url);
    back2.searchParams.delete('iss');
    assertPage(await callback(h.server.baseUrl, back2), 400, 'Answer from the wrong provider');
  });

  test('access_denied at the provider shows what happened and stores nothing', async () => {
    const before = await storedTokens(h.store, userId, apps.main.id);
    const { answer } = await connect(apps.main, { decision: 'deny' });
    assertPage(answer, 403, 'Access not granted');
    assert.doesNotMatch(answer.text, /The user said no/, 'provider text is not echoed');
    assert.equal((await storedTokens(h.store, userId, apps.main.id))!.access, before!.access);
  });

  test('a wrong client secret (invalid_client) is reported as such and stores nothing', async () => {
    const { answer } = await connect(apps.wrongSecret);
    assertPage(answer, 502, 'Application not accepted by the provider');
    assert.equal(await storedTokens(h.store, userId, apps.wrongSecret.id), null);
  });

  test('a provider that hangs times out (504); a provider that is down is unreachable (502); back up, it works', async () => {
    const started = await authorize(h.server.baseUrl, h.token, apps.explicit.client_id);
    const back = await op.authorize(started.body.authorization_url);
    op.hang(true);
    try {
      assertPage(await callback(h.server.baseUrl, back), 504, 'The provider did not answer in time');
    } finally {
      op.hang(false);
    }
    const started2 = await authorize(h.server.baseUrl, h.token, apps.explicit.client_id);
    const back2 = await op.authorize(started2.body.authorization_url);
    await op.stop();
    try {
      assertPage(await callback(h.server.baseUrl, back2), 502, 'The provider could not be reached');
    } finally {
      await op.start();
    }
    assert.equal(await storedTokens(h.store, userId, apps.explicit.id), null, 'nothing half-written');
    const { answer } = await connect(apps.explicit);
    assertPage(answer, 200, 'Connected');
    assert.ok(await storedTokens(h.store, userId, apps.explicit.id));
  });

  test("Snowflake: the preset's /oauth/token-request with HTTP Basic; its error body is understood; its tokens are stored", async () => {
    snowflake.answer = { kind: 'error', error: 'invalid_grant', status: 400 };
    const started = await authorize(h.server.baseUrl, h.token, apps.snowflake.client_id);
    const url = new URL(started.body.authorization_url);
    assert.equal(url.origin + url.pathname, `${snowflake.accountUrl}/oauth/authorize`);
    assert.equal(url.searchParams.get('scope'), 'refresh_token');
    const back = new URL((await fetch(url, { redirect: 'manual' })).headers.get('location')!);
    assertPage(await callback(h.server.baseUrl, back), 400, 'Sign-in could not be completed');
    const request = snowflake.tokenRequests.at(-1)!;
    assert.equal(request.path, '/oauth/token-request');
    assert.match(request.authorization ?? '', /^Basic /);
    assert.equal(request.form.get('client_secret'), null, 'the secret travels in the Basic header only');
    assert.ok(request.form.get('code_verifier'));

    snowflake.answer = { kind: 'error', error: 'invalid_client', status: 401 };
    const back2 = new URL((await fetch((await authorize(h.server.baseUrl, h.token, apps.snowflake.client_id)).body.authorization_url, { redirect: 'manual' })).headers.get('location')!);
    assertPage(await callback(h.server.baseUrl, back2), 502, 'Application not accepted by the provider');
    assert.equal(await storedTokens(h.store, userId, apps.snowflake.id), null);

    snowflake.answer = { kind: 'tokens' };
    const back3 = new URL((await fetch((await authorize(h.server.baseUrl, h.token, apps.snowflake.client_id)).body.authorization_url, { redirect: 'manual' })).headers.get('location')!);
    assertPage(await callback(h.server.baseUrl, back3), 200, 'Connected');
    const stored = await storedTokens(h.store, userId, apps.snowflake.id);
    assert.equal(stored!.access, snowflake.issued!.access_token);
    assert.equal(stored!.refresh, snowflake.issued!.refresh_token);
    const refreshExpiry = Date.parse(String(stored!.row.refresh_token_expires_at));
    assert.ok(refreshExpiry > Date.now() + 89 * 24 * 3600 * 1000, 'refresh_token_expires_in is kept');
  });

  test('return_to: a path here or an allowed origin is followed with 303; a foreign origin is a 422', async () => {
    const pendingBefore = await pendingCount(h.store);
    const foreign = await authorize(h.server.baseUrl, h.token, apps.main.client_id, { return_to: 'https://evil.example/steal' });
    assert.equal(foreign.status, 422);
    assert.deepEqual(foreign.body.errors.map((e: { field: string }) => e.field), ['return_to']);
    for (const sneaky of ['//evil.example/x', '/\\evil.example', 'javascript:alert(1)', 'https://bi.example.com.evil.example/']) {
      assert.equal((await authorize(h.server.baseUrl, h.token, apps.main.client_id, { return_to: sneaky })).status, 422, sneaky);
    }
    assert.equal(await pendingCount(h.store), pendingBefore, 'a refused authorize leaves no pending row');

    const local = await connect(apps.main, { body: { return_to: '/after/connect?x=1' } });
    assert.equal(local.answer.status, 303);
    assert.equal(local.answer.headers.get('location'), `${h.publicUrl}/after/connect?x=1`);
    assert.equal(local.answer.headers.get('cache-control'), 'no-store');
    const allowed = await connect(apps.main, { body: { return_to: 'https://bi.example.com/done' } });
    assert.equal(allowed.answer.status, 303);
    assert.equal(allowed.answer.headers.get('location'), 'https://bi.example.com/done');
  });

  test('secrets: no state, verifier or token in plaintext in the database; the verifier opens only in its own row', async () => {
    const started = await authorize(h.server.baseUrl, h.token, apps.main.client_id);
    const state = new URL(started.body.authorization_url).searchParams.get('state')!;
    const row = await h.store.db.selectFrom('oauth_pending_authorizations').selectAll().where('state_hash', '=', stateHash(state)).executeTakeFirstOrThrow();
    const verifier = secretBox.open(row.code_verifier_sealed, codeVerifierAad(row.state_hash));
    auditSecret('PKCE verifier', verifier);
    assert.throws(() => secretBox.open(row.code_verifier_sealed, codeVerifierAad(stateHash(secret()))));
    const dump = JSON.stringify(await h.store.db.selectFrom('oauth_pending_authorizations').selectAll().execute());
    assert.ok(!dump.includes(state) && !dump.includes(verifier));
    const back = await op.authorize(started.body.authorization_url);
    assertPage(await callback(h.server.baseUrl, back), 200, 'Connected');
    assert.ok(!h.server.output().includes(state), 'the state is not logged');
    assert.ok(!h.server.output().includes(back.searchParams.get('code')!), 'the code is not logged');
  });
});

describe('two instances on one PostgreSQL: a flow started on A completes on B', () => {
  let a: ServerProcess;
  let b: ServerProcess;
  let op: TestProvider;
  let store: Store;

  after(async () => {
    await store?.close();
    await Promise.all([a?.stop(), b?.stop()]);
    await op?.stop();
  });

  test('authorize on A, callback on B: connected, and the state is spent for both', { skip: POSTGRES_ONLY }, async () => {
    const port = await freePort();
    const publicUrl = `http://127.0.0.1:${port}`;
    const client = { client_id: 'shared', client_secret: secret() };
    op = await startTestProvider({ clients: [{ ...client, redirect_uris: [`${publicUrl}/external_oauth/redirect`] }] });
    const env = { EOA_PUBLIC_URL: publicUrl };
    a = await startServer({ env: { ...env, PORT: String(port) } });
    b = await startServer({ env: { ...env, DATABASE_URL: a.env.DATABASE_URL } });
    store = openStore({ databaseUrl: a.env.DATABASE_URL, dataDir: makeDataDir(), database: { poolMax: 2, statementTimeoutMs: 15_000 } });
    const sdk = lookerSdk(a.baseUrl, ADMIN);
    const app = await sdk.ok(sdk.create_external_oauth_application({ name: 'shared', ...client, issuer: op.issuer, scopes: 'refresh_token' } as never));
    await sdk.authSession.logout();

    const started = await authorize(a.baseUrl, await login(a.baseUrl, ADMIN), client.client_id);
    const back = await op.authorize(started.body.authorization_url);
    assertPage(await callback(b.baseUrl, back), 200, 'Connected');
    assert.ok(await storedTokens(store, '1', app.id!));
    assertPage(await callback(a.baseUrl, back), 400, 'Sign-in link already used');
    assert.equal(path.basename(a.dataDir) !== path.basename(b.dataDir), true);
  });
});
