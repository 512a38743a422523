import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { auditExchange, auditSecret } from './audit.ts';
import type { TestProvider } from './oidc-provider.ts';
import type { TestApp } from './app.ts';

/**
 * Pieces the token-broker tests share: an application pointed at the test provider, a user connected to it
 * through the service's own authorization-code flow (part 1), and every token the provider issues
 * registered with the secret audit (so a refresh token that ever reached a log, a file or a response is a
 * finding, and an access token anywhere but an access_token answer is one).
 */

/** Where the service says it lives: the redirect URI registered at the provider is this + /external_oauth/redirect. */
export const PUBLIC_URL = 'http://127.0.0.1:9';
export const REDIRECT_URI = `${PUBLIC_URL}/external_oauth/redirect`;

/** One call to the service, in-process (inject) or over HTTP (a real process): the same shape either way. */
export type Call = (method: string, path: string, token?: string, body?: unknown) => Promise<{ status: number; body: string; headers: Record<string, unknown>; json(): any }>;

/** The Call to a real server process over HTTP; `baseUrl` is read per call (a restarted process has a new one). Every answer goes to the secret audit, as in-process answers do. */
export function httpCall(baseUrl: () => string): Call {
  return async (method, path, bearer, body) => {
    const response = await fetch(`${baseUrl()}${path}`, {
      method,
      headers: { ...(bearer ? { authorization: `Bearer ${bearer}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      redirect: 'manual',
      signal: AbortSignal.timeout(30_000),
    });
    const text = await response.text();
    auditExchange({ method, url: path, payload: body }, { statusCode: response.status, body: text });
    return { status: response.status, body: text, headers: Object.fromEntries(response.headers), json: () => JSON.parse(text) };
  };
}

/** The in-process Call: `t.inject` with the token as a bearer. */
export function injectCall(t: { inject: TestApp['inject'] }): Call {
  return async (method, url, token, body) => {
    const response = await t.inject({
      method: method as 'GET',
      url,
      headers: token ? { authorization: `Bearer ${token}` } : {},
      ...(body === undefined ? {} : { payload: body as object }),
    });
    return { status: response.statusCode, body: response.body, headers: response.headers, json: () => JSON.parse(response.body) };
  };
}

export function newClient() {
  return { client_id: `broker-${randomBytes(6).toString('hex')}`, client_secret: randomBytes(24).toString('base64url'), redirect_uris: [REDIRECT_URI] };
}

/**
 * Registers every access and refresh token the provider saves (opaque tokens: the value is the jti) with the
 * secret audit. Call again after `configure()`, which builds a new Provider.
 */
export function auditProviderTokens(op: TestProvider): void {
  for (const event of ['access_token.saved', 'refresh_token.saved']) {
    (op.provider.on as (name: string, listener: (token: { jti: string }) => void) => void)(event, (token) => auditSecret(`provider ${event}`, token.jti));
  }
}

/** The grant behind every refresh token the provider saves, by user: a test revokes it at the provider. */
export function trackGrants(op: TestProvider): Map<string, string> {
  const grants = new Map<string, string>();
  (op.provider.on as (name: string, listener: (token: { accountId: string; grantId: string }) => void) => void)('refresh_token.saved', (token) =>
    grants.set(token.accountId, token.grantId),
  );
  return grants;
}

/** Creates an application for `client` at the test provider (endpoints by discovery from its issuer). */
export async function createApplication(call: Call, adminToken: string, op: TestProvider, client: { client_id: string; client_secret: string }, extra: object = {}) {
  const response = await call('POST', '/api/4.0/external_oauth_applications', adminToken, {
    name: `broker ${client.client_id}`,
    client_id: client.client_id,
    client_secret: client.client_secret,
    issuer: op.issuer,
    scopes: 'refresh_token',
    ...extra,
  });
  assert.equal(response.status, 200, response.body);
  return response.json() as { id: string; client_id: string };
}

/** Connects the user holding `userToken` (as `accountId` at the provider) through the service's own flow. */
export async function connectUser(call: Call, op: TestProvider, clientId: string, userToken: string, accountId = 'alice'): Promise<void> {
  const started = await call('POST', `/api/4.0/external_oauth_applications/${encodeURIComponent(clientId)}/authorize`, userToken, {});
  assert.equal(started.status, 200, started.body);
  const back = await op.authorize(started.json().authorization_url, { accountId });
  assert.equal(back.origin + back.pathname, REDIRECT_URI, 'the provider sends the browser back to the service');
  const finished = await call('GET', `/external_oauth/redirect${back.search}`);
  assert.ok(finished.status === 200 || finished.status === 303, `the callback answered ${finished.status}: ${finished.body.slice(0, 300)}`);
}

export const accessTokenPath = (clientId: string) => `/api/4.0/external_oauth_applications/${encodeURIComponent(clientId)}/access_token`;
export const userStatePath = (clientId: string, userId: string) => `/api/4.0/external_oauth_applications/${encodeURIComponent(clientId)}/user_states/${userId}`;

/** Polls until `check` holds, at most `ms` (a bounded wait for something that happens by the clock). */
export async function waitFor(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail(`waited ${ms} ms for ${what}`);
}
