import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as oauth from 'oauth4webapi';
import { startTestProvider, type TestProvider } from '../helpers/oidc-provider.ts';
import { providerResolver } from '../../src/oauth/provider.ts';
import { exchangeCode, refreshGrant, DEFAULT_MAX_RESPONSE_BYTES } from '../../src/oauth/outbound.ts';
import { ProviderError } from '../../src/oauth/provider-errors.ts';

/**
 * The test authorization server itself, and the outbound modules against it: discovery, a headless
 * login, the code exchange with PKCE and client_secret_basic, a rotating refresh, and its failure modes.
 */
const REDIRECT_URI = 'http://127.0.0.1:9/external_oauth/redirect';
const client = { client_id: 'smoke-client', client_secret: randomBytes(24).toString('base64url'), redirect_uris: [REDIRECT_URI] };
const http = { timeoutMs: 2000, maxResponseBytes: DEFAULT_MAX_RESPONSE_BYTES };

describe('the oidc-provider fixture and the outbound modules', () => {
  let op: TestProvider;
  before(async () => {
    op = await startTestProvider({ clients: [client], accessTokenTtl: 30 });
  });
  after(() => op.stop());

  const settings = () => ({
    dialect_name: null, provider_url: null, authorization_endpoint: null, token_endpoint: null, revocation_endpoint: null,
    issuer: op.issuer, scopes: 'refresh_token', token_endpoint_auth_method: null,
  });

  async function connect(resolver = providerResolver({ ...http, allowInsecure: false })) {
    const provider = await resolver.resolve(settings());
    const verifier = oauth.generateRandomCodeVerifier();
    const state = oauth.generateRandomState();
    const url = new URL(provider.authorizationEndpoint);
    url.search = new URLSearchParams({
      response_type: 'code', client_id: client.client_id, redirect_uri: REDIRECT_URI, scope: provider.scopes!, state,
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    }).toString();
    const back = await op.authorize(url.href);
    return { provider, verifier, state, back };
  }

  test('discovery finds the endpoints and the issuer sends iss; the code exchange returns rotating tokens', async () => {
    const { provider, verifier, state, back } = await connect();
    assert.equal(provider.tokenEndpoint, `${op.issuer}/token`);
    assert.equal(provider.issRequired, true);
    assert.equal(back.searchParams.get('state'), state);
    assert.equal(back.searchParams.get('iss'), op.issuer);
    const as = { issuer: op.issuer };
    const callbackParameters = oauth.validateAuthResponse(as, { client_id: client.client_id }, back.searchParams, state);
    const grantsBefore = op.count('grant.success');
    const tokens = await exchangeCode(provider, { clientId: client.client_id, clientSecret: client.client_secret }, { callbackParameters, redirectUri: REDIRECT_URI, codeVerifier: verifier }, http);
    assert.equal(op.count('grant.success'), grantsBefore + 1);
    assert.equal(tokens.token_type, 'bearer');
    assert.equal(tokens.expires_in, 30);
    assert.ok(tokens.refresh_token);

    const refreshed = await refreshGrant(provider, { clientId: client.client_id, clientSecret: client.client_secret }, tokens.refresh_token!, http);
    assert.notEqual(refreshed.refresh_token, tokens.refresh_token, 'the refresh token rotates');
    await assert.rejects(
      refreshGrant(provider, { clientId: client.client_id, clientSecret: client.client_secret }, tokens.refresh_token!, http),
      (error: ProviderError) => error.code === 'invalid_grant',
    );
  });

  test('a wrong verifier is invalid_grant; a wrong secret is invalid_client', async () => {
    const { provider, state, back } = await connect();
    const callbackParameters = oauth.validateAuthResponse({ issuer: op.issuer }, { client_id: client.client_id }, back.searchParams, state);
    await assert.rejects(
      exchangeCode(provider, { clientId: client.client_id, clientSecret: 'wrong-secret-0123456789' }, { callbackParameters, redirectUri: REDIRECT_URI, codeVerifier: oauth.generateRandomCodeVerifier() }, http),
      (error: ProviderError) => error.code === 'invalid_client' && !error.message.includes('wrong-secret'),
    );
    await assert.rejects(
      exchangeCode(provider, { clientId: client.client_id, clientSecret: client.client_secret }, { callbackParameters, redirectUri: REDIRECT_URI, codeVerifier: oauth.generateRandomCodeVerifier() }, http),
      (error: ProviderError) => error.code === 'invalid_grant',
    );
  });

  test('access_denied comes back to the redirect URI', async () => {
    const provider = await providerResolver({ ...http, allowInsecure: false }).resolve(settings());
    const url = new URL(provider.authorizationEndpoint);
    url.search = new URLSearchParams({
      response_type: 'code', client_id: client.client_id, redirect_uri: REDIRECT_URI, scope: 'refresh_token', state: 'st-1',
      code_challenge: await oauth.calculatePKCECodeChallenge(oauth.generateRandomCodeVerifier()), code_challenge_method: 'S256',
    }).toString();
    const back = await op.authorize(url.href, { decision: 'deny' });
    assert.equal(back.searchParams.get('error'), 'access_denied');
    assert.equal(back.searchParams.get('state'), 'st-1');
  });

  test('PKCE is required: an authorization request without a challenge is refused', async () => {
    const url = new URL(`${op.issuer}/auth`);
    url.search = new URLSearchParams({ response_type: 'code', client_id: client.client_id, redirect_uri: REDIRECT_URI, scope: 'refresh_token', state: 'st-2' }).toString();
    const back = await op.authorize(url.href);
    assert.equal(back.searchParams.get('error'), 'invalid_request');
  });

  test('configure() swaps the client secret and keeps the grants: old tokens refresh under the new secret only', async () => {
    const { provider, verifier, state, back } = await connect();
    const callbackParameters = oauth.validateAuthResponse({ issuer: op.issuer }, { client_id: client.client_id }, back.searchParams, state);
    const tokens = await exchangeCode(provider, { clientId: client.client_id, clientSecret: client.client_secret }, { callbackParameters, redirectUri: REDIRECT_URI, codeVerifier: verifier }, http);
    const rotated = { ...client, client_secret: randomBytes(24).toString('base64url') };
    await op.configure({ clients: [rotated] });
    try {
      await assert.rejects(
        refreshGrant(provider, { clientId: client.client_id, clientSecret: client.client_secret }, tokens.refresh_token!, http),
        (error: ProviderError) => error.code === 'invalid_client',
      );
      const refreshed = await refreshGrant(provider, { clientId: client.client_id, clientSecret: rotated.client_secret }, tokens.refresh_token!, http);
      assert.ok(refreshed.access_token);
    } finally {
      await op.configure({ clients: [client] });
    }
  });

  test('a hanging provider times out; a stopped one is unreachable; started again it answers', async () => {
    const provider = await providerResolver({ ...http, allowInsecure: false }).resolve(settings());
    const creds = { clientId: client.client_id, clientSecret: client.client_secret };
    op.hang(true);
    await assert.rejects(refreshGrant(provider, creds, 'x', { ...http, timeoutMs: 300 }), (error: ProviderError) => error.code === 'timeout');
    op.hang(false);
    await op.stop();
    await assert.rejects(refreshGrant(provider, creds, 'x', http), (error: ProviderError) => error.code === 'unreachable');
    await op.start();
    await assert.rejects(refreshGrant(provider, creds, 'x', http), (error: ProviderError) => error.code === 'invalid_grant');
  });
});
