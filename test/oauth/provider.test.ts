import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { providerResolver, providerSettingProblems, ProviderSettingsError, type ProviderSettings } from '../../src/oauth/provider.ts';
import { boundedFetch, refreshGrant } from '../../src/oauth/outbound.ts';
import { ProviderError, tokenEndpointError } from '../../src/oauth/provider-errors.ts';
import { allowedReturnTo, authorizationUrl, issuerProblem } from '../../src/oauth/connect.ts';

/** The broker's provider pieces without a service: presets, discovery, validation, outbound bounds, errors. */
const http10 = { timeoutMs: 2000, maxResponseBytes: 4096 };
const none: ProviderSettings = {
  dialect_name: null, provider_url: null, authorization_endpoint: null, token_endpoint: null, revocation_endpoint: null,
  issuer: null, scopes: null, token_endpoint_auth_method: null,
};

/** A stub answering each path with a function of the request; counts the requests per path. */
async function stub(routes: Record<string, (req: http.IncomingMessage, res: http.ServerResponse) => void>) {
  const hits = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const route = routes[path];
    if (route) route(req, res);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { base, hits, close: () => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }) };
}

describe('presets by dialect_name', () => {
  const resolver = providerResolver({ ...http10, allowInsecure: false });

  test('snowflake: /oauth/authorize and /oauth/token-request under provider_url, scope refresh_token, HTTP Basic', async () => {
    const p = await resolver.resolve({ ...none, dialect_name: 'snowflake', provider_url: 'https://acme-xy12345.snowflakecomputing.com/' });
    assert.equal(p.authorizationEndpoint, 'https://acme-xy12345.snowflakecomputing.com/oauth/authorize');
    assert.equal(p.tokenEndpoint, 'https://acme-xy12345.snowflakecomputing.com/oauth/token-request');
    assert.equal(p.revocationEndpoint, null);
    assert.equal(p.scopes, 'refresh_token');
    assert.equal(p.tokenEndpointAuthMethod, 'client_secret_basic');
  });

  test('databricks: /oidc/v1/authorize and /oidc/v1/token, scopes sql offline_access', async () => {
    const p = await resolver.resolve({ ...none, dialect_name: 'databricks', provider_url: 'https://dbc-1234.cloud.databricks.com' });
    assert.equal(p.authorizationEndpoint, 'https://dbc-1234.cloud.databricks.com/oidc/v1/authorize');
    assert.equal(p.tokenEndpoint, 'https://dbc-1234.cloud.databricks.com/oidc/v1/token');
    assert.equal(p.scopes, 'sql offline_access');
  });

  test("bigquery_standard_sql: Google's endpoints without provider_url; access_type=offline and prompt=consent in the URL", async () => {
    const p = await resolver.resolve({ ...none, dialect_name: 'bigquery_standard_sql' });
    assert.equal(p.tokenEndpoint, 'https://oauth2.googleapis.com/token');
    const url = new URL(await authorizationUrl(p, { clientId: 'c', redirectUri: 'https://looker.example/external_oauth/redirect', state: 's', codeVerifier: 'v'.repeat(43) }));
    assert.equal(url.origin + url.pathname, 'https://accounts.google.com/o/oauth2/v2/auth');
    assert.equal(url.searchParams.get('access_type'), 'offline');
    assert.equal(url.searchParams.get('prompt'), 'consent');
    assert.equal(url.searchParams.get('scope'), 'https://www.googleapis.com/auth/bigquery');
    assert.equal(url.searchParams.get('code_challenge_method'), 'S256');
  });

  test('explicit settings win over the preset', async () => {
    const p = await resolver.resolve({
      ...none, dialect_name: 'snowflake', provider_url: 'https://a.snowflakecomputing.com',
      token_endpoint: 'https://proxy.example/token', scopes: 'refresh_token session:role:ANALYST', token_endpoint_auth_method: 'client_secret_post',
    });
    assert.equal(p.tokenEndpoint, 'https://proxy.example/token');
    assert.equal(p.authorizationEndpoint, 'https://a.snowflakecomputing.com/oauth/authorize');
    assert.equal(p.scopes, 'refresh_token session:role:ANALYST');
    assert.equal(p.tokenEndpointAuthMethod, 'client_secret_post');
  });

  test('an application that says nowhere where its provider is: ProviderSettingsError naming what to set', async () => {
    await assert.rejects(resolver.resolve(none), ProviderSettingsError);
    await assert.rejects(resolver.resolve({ ...none, dialect_name: 'snowflake' }), /provider_url/);
  });
});

describe('discovery', () => {
  let liar: Awaited<ReturnType<typeof stub>>;
  before(async () => {
    liar = await stub({ '/.well-known/oauth-authorization-server': (_q, r) => r.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ issuer: 'https://someone-else.example', authorization_endpoint: 'https://x/a', token_endpoint: 'https://x/t' })) });
  });
  after(() => liar.close());

  test('RFC 8414 first; the result is cached; explicit endpoints still win', async () => {
    // RFC 8414 §3: the well-known segment goes between the host and the issuer's path.
    const server = await stub({
      '/.well-known/oauth-authorization-server/tenant': (_q, r) =>
        r.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ issuer: `${server.base}/tenant`, authorization_endpoint: `${server.base}/a`, token_endpoint: `${server.base}/t`, revocation_endpoint: `${server.base}/r`, authorization_response_iss_parameter_supported: true })),
    });
    try {
      const resolver = providerResolver({ ...http10, allowInsecure: false });
      const settings = { ...none, issuer: `${server.base}/tenant` };
      const p = await resolver.resolve(settings);
      assert.deepEqual([p.authorizationEndpoint, p.tokenEndpoint, p.revocationEndpoint, p.issuer, p.issRequired], [`${server.base}/a`, `${server.base}/t`, `${server.base}/r`, `${server.base}/tenant`, true]);
      await resolver.resolve(settings);
      assert.equal(server.hits.get('/.well-known/oauth-authorization-server/tenant'), 1, 'cached');
      assert.equal(server.hits.get('/tenant/.well-known/openid-configuration'), undefined, 'no OIDC request when RFC 8414 answered');
      const q = await resolver.resolve({ ...settings, token_endpoint: 'https://explicit.example/token' });
      assert.equal(q.tokenEndpoint, 'https://explicit.example/token');
    } finally {
      await server.close();
    }
  });

  test('with both endpoints explicit, an unreadable discovery document costs only the revocation endpoint', async () => {
    const resolver = providerResolver({ ...http10, allowInsecure: false });
    const p = await resolver.resolve({ ...none, issuer: liar.base, authorization_endpoint: 'https://op.example/a', token_endpoint: 'https://op.example/t' });
    assert.deepEqual([p.authorizationEndpoint, p.tokenEndpoint, p.revocationEndpoint, p.issuer, p.issRequired], ['https://op.example/a', 'https://op.example/t', null, liar.base, false]);
  });

  test('a discovery document naming another issuer is refused (malformed), and not cached', async () => {
    const resolver = providerResolver({ ...http10, allowInsecure: false });
    await assert.rejects(resolver.resolve({ ...none, issuer: liar.base }), (e: ProviderError) => e.code === 'malformed');
    await assert.rejects(resolver.resolve({ ...none, issuer: liar.base }), (e: ProviderError) => e.code === 'malformed');
    assert.equal(liar.hits.get('/.well-known/oauth-authorization-server'), 3, 'asked again each time (the first ask was the test above)');
  });
});

describe('provider settings validation', () => {
  test('every bad field is named once; http only for loopback unless allowed', () => {
    const body = {
      provider_url: 'ftp://acme.example', authorization_endpoint: 'http://acme.example/auth', token_endpoint: 'not a url',
      revocation_endpoint: 'https://user:pw@acme.example/revoke', issuer: 'https://acme.example/?tenant=1', scopes: 'sql  "x"',
      token_endpoint_auth_method: 'private_key_jwt',
    };
    const problems = providerSettingProblems(body, false);
    assert.deepEqual(problems.map((p) => p.field), Object.keys(body));
    assert.ok(problems.every((p) => p.code === 'invalid' && p.message.length > 10));
    assert.deepEqual(providerSettingProblems({ authorization_endpoint: 'http://acme.example/auth' }, true), []);
    for (const loopback of ['http://127.0.0.1:8080/a', 'http://localhost/a', 'http://[::1]:9/a']) {
      assert.deepEqual(providerSettingProblems({ token_endpoint: loopback }, false), [], loopback);
    }
    assert.deepEqual(providerSettingProblems({ provider_url: 'https://a.example', scopes: 'refresh_token session:role:ANALYST', token_endpoint_auth_method: 'client_secret_post' }, false), []);
  });
});

describe('outbound bounds and error bodies', () => {
  test('a token endpoint that redirects is not followed; an oversized answer is refused', async () => {
    const target = await stub({ '/t': (_q, r) => r.writeHead(200, { 'content-type': 'application/json' }).end('{"access_token":"a","token_type":"bearer"}') });
    const redirector = await stub({
      '/token': (_q, r) => r.writeHead(307, { location: `${target.base}/t` }).end(),
      '/big': (_q, r) => r.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: 'x'.repeat(10_000), token_type: 'bearer' })),
    });
    try {
      const provider = { issuer: null, issRequired: false, authorizationEndpoint: `${redirector.base}/a`, tokenEndpoint: `${redirector.base}/token`, revocationEndpoint: null, scopes: null, tokenEndpointAuthMethod: 'client_secret_basic' as const, authorizationParams: {}, allowInsecure: true };
      const creds = { clientId: 'c', clientSecret: 'client-secret-that-must-not-travel' };
      await assert.rejects(refreshGrant(provider, creds, 'r', http10), (e: ProviderError) => e.code === 'malformed' && e.status === 307);
      assert.equal(target.hits.get('/t'), undefined, 'the secret never reached the redirect target');
      await assert.rejects(refreshGrant({ ...provider, tokenEndpoint: `${redirector.base}/big` }, creds, 'r', http10), (e: ProviderError) => e.code === 'malformed');
      const small = await boundedFetch(http10)(`${target.base}/t`, {});
      assert.equal(small.status, 200);
    } finally {
      await target.close();
      await redirector.close();
    }
  });

  test("RFC 6749 and Snowflake's error bodies map to the closed list of codes", () => {
    const snowflake = (error: string) => ({ data: null, message: 'This is an invalid client.', code: null, success: false, error });
    assert.equal(tokenEndpointError(400, snowflake('invalid_grant'))?.code, 'invalid_grant');
    assert.equal(tokenEndpointError(401, snowflake('invalid_client'))?.code, 'invalid_client');
    assert.equal(tokenEndpointError(200, snowflake('invalid_grant'))?.code, 'invalid_grant', 'Snowflake may say it with a 200');
    assert.equal(tokenEndpointError(200, { data: null, message: 'x', success: false })?.code, 'malformed');
    assert.equal(tokenEndpointError(400, { error: 'invalid_scope', error_description: 'nope' })?.code, 'rejected');
    assert.equal(tokenEndpointError(400, { error: 'unauthorized_client' })?.code, 'invalid_client');
    assert.equal(tokenEndpointError(401, null)?.code, 'invalid_client');
    assert.equal(tokenEndpointError(503, '<html>')?.code, 'server_error');
    assert.equal(tokenEndpointError(400, { error: 'temporarily_unavailable' })?.code, 'server_error');
    assert.equal(tokenEndpointError(200, { access_token: 'a', token_type: 'bearer' }), null);
    const error = tokenEndpointError(400, { error: 'invalid_grant', error_description: 'secret-looking text' })!;
    assert.doesNotMatch(error.message, /secret-looking/, 'provider text never goes into the message');
  });
});

describe('return_to and iss rules', () => {
  const publicUrl = 'https://eoa.example';
  test('a path here or an allowed origin; nothing else', () => {
    assert.equal(allowedReturnTo('/done?x=1', publicUrl, []), 'https://eoa.example/done?x=1');
    assert.equal(allowedReturnTo('https://eoa.example/x', publicUrl, []), 'https://eoa.example/x');
    assert.equal(allowedReturnTo('https://bi.example.com/y', publicUrl, ['https://bi.example.com']), 'https://bi.example.com/y');
    for (const bad of ['//evil.example', '/\\evil.example', '/\tevil', 'https://evil.example/', 'javascript:alert(1)', 'https://bi.example.com@evil.example/', 'https://user:pw@eoa.example/', 'http://eoa.example/x', 'relative/path']) {
      assert.equal(allowedReturnTo(bad, publicUrl, ['https://bi.example.com']), null, bad);
    }
  });

  test('iss must equal the expected issuer; missing is refused only when the provider always sends it', () => {
    assert.equal(issuerProblem('https://op.example', 'https://op.example', true), null);
    assert.equal(issuerProblem('https://op.example', 'https://attacker.example', false), 'issuer_mismatch');
    assert.equal(issuerProblem('https://op.example', null, true), 'issuer_mismatch');
    assert.equal(issuerProblem('https://op.example', null, false), null);
    assert.equal(issuerProblem(null, 'https://anything.example', false), null);
  });
});
