import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ADMIN, makeDataDir } from '../helpers/app.ts';
import { startServer } from '../helpers/server-process.ts';
import { randomSecret } from '../reliability/support.ts';

const PROBE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../helpers/async-hooks-probe.mjs');

/**
 * On Node 20 an AsyncLocalStorage in use (or any async hook) puts a hook on every promise of the process,
 * a few per cent of every request's CPU (issue 16): who is acting reaches the audit log as an argument
 * instead. This serves the hot paths and the audited writes (login, a failed login, create, list,
 * user state, the token read, logout) in the real process, with a probe preloaded that notes anything
 * turning hooks on, its dependencies included.
 */
test('serving requests turns on no async hook, promise hook or AsyncLocalStorage', async () => {
  const report = path.join(makeDataDir(), 'async-hooks.json');
  const server = await startServer({ env: { NODE_OPTIONS: `--import ${PROBE}`, EOA_ASYNC_HOOKS_PROBE_OUT: report } });
  const call = async (method: string, url: string, token: string | null, body?: unknown) => {
    const response = await fetch(`${server.baseUrl}/api/4.0${url}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: response.status === 204 ? null : await response.json() };
  };
  try {
    const login = await fetch(`${server.baseUrl}/api/4.0/login`, { method: 'POST', body: new URLSearchParams(ADMIN) });
    assert.equal(login.status, 200);
    const token = ((await login.json()) as { access_token: string }).access_token;
    const failed = await fetch(`${server.baseUrl}/api/4.0/login`, { method: 'POST', body: new URLSearchParams({ client_id: ADMIN.client_id, client_secret: randomSecret() }) });
    assert.equal(failed.status, 404);
    const created = await call('POST', '/external_oauth_applications', token, { name: 'hooks', client_id: 'hooks', client_secret: randomSecret() });
    assert.equal(created.status, 200);
    assert.equal((await call('GET', '/external_oauth_applications?client_id=hooks', token)).status, 200);
    const me = await call('GET', '/user', token);
    const state = { user_id: me.body.id, oauth_application_id: created.body.id, access_token: randomSecret(), access_token_expires_at: '2031-01-01T00:00:00Z' };
    assert.equal((await call('POST', '/external_oauth_applications/user_state', token, state)).status, 200);
    assert.equal((await call('POST', '/external_oauth_applications/hooks/access_token', token, {})).status, 200);
    assert.equal((await call('DELETE', '/logout', token)).status, 204);
  } finally {
    assert.equal(await server.stop(), 0);
  }
  assert.deepEqual(JSON.parse(fs.readFileSync(report, 'utf8')), []);
});
