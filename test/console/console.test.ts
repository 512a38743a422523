import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ADMIN, bearer, buildTestApp, json, type TestApp } from '../helpers/app.ts';
import { ConsoleClient, injectTransport, shownSecret, type ConsoleResponse } from '../helpers/console-client.ts';
import { randomSecret, storeDigest } from '../reliability/support.ts';
import { CONSOLE_ROUTES, registeredRoutes, type ConsoleIds } from '../helpers/routes.ts';
import { CONTENT_SECURITY_POLICY } from '../../src/console/index.ts';
import { startTestProvider, type TestProvider } from '../helpers/oidc-provider.ts';
import { PUBLIC_URL, REDIRECT_URI, auditProviderTokens, newClient, userStatePath } from '../helpers/broker.ts';

/**
 * The web console in-process: sessions, CSRF, permissions, forms and their errors. The same flows in a
 * real browser against the real server process are in browser.test.ts.
 */

const client = (t: TestApp, headers: Record<string, string> = {}) => new ConsoleClient(injectTransport(t.app), headers);

async function admin(t: TestApp): Promise<ConsoleClient> {
  const c = client(t);
  await c.signIn(ADMIN);
  return c;
}

async function createApplication(t: TestApp, name = `App ${randomBytes(4).toString('hex')}`) {
  const response = await t.inject({
    method: 'POST',
    url: '/api/4.0/external_oauth_applications',
    headers: bearer(t.adminToken),
    payload: { name, client_id: `client/${randomBytes(4).toString('hex')} ?`, client_secret: randomSecret() },
  });
  assert.equal(response.statusCode, 200, response.body);
  return json(response) as { id: string; name: string; client_id: string };
}

function text(response: ConsoleResponse): string {
  const entities: Record<string, string> = { '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'", '&#96;': '`', '&amp;': '&' };
  return response.body.replace(/<[^>]+>/g, ' ').replace(/&(lt|gt|quot|#39|#96|amp);/g, (e) => entities[e]).replace(/\s+/g, ' ');
}

describe('console: sign-in and the session cookie', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp();
  });
  after(() => t.close());

  test('/ and /console send a signed-out visitor to the sign-in page', async () => {
    const root = await t.inject({ method: 'GET', url: '/' });
    assert.equal(root.statusCode, 303);
    assert.equal(root.headers.location, '/console');
    const c = client(t);
    const home = await c.get('/console');
    assert.equal(home.status, 303);
    assert.equal(home.location, '/console/login');
    const page = await c.follow(home);
    assert.equal(page.status, 200);
    assert.match(page.body, /<h1>Sign in<\/h1>/);
    assert.match(page.body, /<label for="field-client_id">/);
  });

  test('signing in sets an HttpOnly, SameSite=Strict session cookie holding a live API session, and lands on the admin pages', async () => {
    const c = client(t);
    await c.get('/console/login');
    const response = await c.post('/console/login', ADMIN);
    assert.equal(response.status, 303);
    assert.equal(response.location, '/console');
    const cookie = [response.headers['set-cookie']].flat().find((line) => line!.startsWith('eoa_console='))!;
    assert.match(cookie, /; Path=\/; Max-Age=3600; HttpOnly; SameSite=Strict$/, 'no Secure over plain http');
    // The cookie is an ordinary session: the same token works against the API.
    const me = await t.inject({ method: 'GET', url: '/api/4.0/user', headers: bearer(c.sessionToken!) });
    assert.equal(json(me).id, '1');
    const home = await c.follow(response);
    assert.equal(home.location, '/console/applications');
    const page = await c.follow(home);
    assert.equal(page.status, 200);
    assert.match(page.body, /<h1>Applications<\/h1>/);
  });

  test('over https (EOA_PUBLIC_URL) the cookie is Secure with the __Host- prefix', async () => {
    const secure = await buildTestApp({ EOA_PUBLIC_URL: 'https://console.example' });
    try {
      const c = new ConsoleClient(injectTransport(secure.app), { origin: 'https://console.example' });
      await c.get('/console/login');
      assert.ok(c.cookies.has('__Host-eoa_console_signin'));
      const response = await c.post('/console/login', ADMIN);
      assert.equal(response.status, 303);
      const cookie = [response.headers['set-cookie']].flat().find((line) => line!.startsWith('__Host-eoa_console='))!;
      assert.match(cookie, /; Path=\/; Max-Age=3600; HttpOnly; SameSite=Strict; Secure$/);
      assert.equal((await c.get('/console/applications')).status, 200);
      // A request from the plain-http origin of the same host is another origin.
      const foreign = await c.post('/console/logout', {}, { origin: 'http://console.example' });
      assert.equal(foreign.status, 403);
    } finally {
      await secure.close();
    }
  });

  test('the sign-in page sends someone already signed in to the console, and shows the form again once the session is gone', async () => {
    const c = await admin(t);
    const page = await c.get('/console/login');
    assert.equal(page.status, 303);
    assert.equal(page.location, '/console');
    await t.inject({ method: 'DELETE', url: '/api/4.0/logout', headers: bearer(c.sessionToken!) });
    assert.equal((await c.get('/console/login')).status, 200);
  });

  test('wrong credentials: one message that reveals nothing, no session', async () => {
    for (const credentials of [{ ...ADMIN, client_secret: 'wrong-secret-000000000' }, { client_id: 'nobody', client_secret: 'x' }]) {
      const c = client(t);
      await c.get('/console/login');
      const response = await c.post('/console/login', credentials);
      assert.equal(response.status, 401);
      assert.match(text(response), /These API credentials were not accepted/);
      assert.equal(c.sessionToken, undefined);
      assert.ok(!response.body.includes('wrong-secret-000000000'), 'the secret is not echoed back');
    }
  });

  test('the login guard applies to console sign-in: past the limit even the right secret gets 429', async () => {
    const guarded = await buildTestApp({ EOA_LOGIN_GUARD_MAX: '3' });
    try {
      const c = client(guarded);
      await c.get('/console/login');
      for (let i = 0; i < 3; i += 1) assert.equal((await c.post('/console/login', { ...ADMIN, client_secret: `wrong-secret-${i}-0123456789` })).status, 401);
      const refused = await c.post('/console/login', ADMIN);
      assert.equal(refused.status, 429);
      assert.ok(Number(refused.headers['retry-after']) >= 1);
      assert.match(text(refused), /Too many failed sign-ins/);
      assert.equal(c.sessionToken, undefined);
      // The API's login shares the count: it is the same guard.
      const api = await guarded.inject({ method: 'POST', url: '/api/4.0/login', payload: ADMIN });
      assert.equal(api.statusCode, 429);
    } finally {
      await guarded.close();
    }
  });

  test('signing out ends the session for the API too', async () => {
    const c = await admin(t);
    const token = c.sessionToken!;
    const out = await c.post('/console/logout');
    assert.equal(out.status, 303);
    assert.equal(out.location, '/console/login?done=signed-out');
    assert.equal(c.sessionToken, undefined, 'the cookie is deleted');
    assert.equal((await t.inject({ method: 'GET', url: '/api/4.0/user', headers: bearer(token) })).statusCode, 401);
    const again = new ConsoleClient(injectTransport(t.app));
    again.cookies.set('eoa_console', token);
    assert.equal((await again.get('/console/applications')).location, '/console/login');
  });

  test('the session follows the API rules: the cookie lives as long as the token, and an expired session is signed out', async () => {
    const short = await buildTestApp({ EOA_TOKEN_TTL_S: '120', EOA_TOKEN_CACHE_MS: '0' });
    try {
      const c = client(short);
      await c.get('/console/login');
      const response = await c.post('/console/login', ADMIN);
      assert.match(String([response.headers['set-cookie']].flat()[0]), /^eoa_console=[^;]+; Path=\/; Max-Age=120;/);
      assert.equal((await c.get('/console/applications')).status, 200);
      // Expire the session where the API keeps it: the console asks to sign in again, as the API answers 401.
      await short.app.store.db.updateTable('sessions').set({ expires_at: new Date(Date.now() - 1000).toISOString() }).execute();
      const expired = await c.get('/console/applications');
      assert.equal(expired.status, 303);
      assert.equal(expired.location, '/console/login');
      assert.equal(c.sessionToken, undefined, 'the dead cookie is deleted');
    } finally {
      await short.close();
    }
  });

  test('the session follows the API rules: disabling the user or their credentials ends it', async () => {
    const member = await t.newUser();
    const creds = json(await t.inject({ method: 'GET', url: `/api/4.0/users/${member.id}/credentials_api3`, headers: bearer(t.adminToken) }))[0];
    const c = client(t);
    await c.signIn(member);
    assert.equal((await c.get('/console/connections')).status, 200);
    await t.inject({ method: 'PATCH', url: `/api/4.0/users/${member.id}/credentials_api3/${creds.id}`, headers: bearer(t.adminToken), payload: { is_disabled: true } });
    const after = await c.get('/console/connections');
    assert.equal(after.status, 303);
    assert.equal(after.location, '/console/login');
    // And while disabled, those credentials cannot sign in to the console either.
    await c.get('/console/login');
    assert.equal((await c.post('/console/login', member)).status, 401);
  });

  test('every page carries the strict CSP and framing, sniffing and referrer protections, errors included', async () => {
    const c = await admin(t);
    for (const url of ['/console/login', '/console/applications', '/console/nope', '/console/users/999999']) {
      const response = await c.get(url);
      assert.equal(response.headers['content-security-policy'], CONTENT_SECURITY_POLICY, url);
      assert.equal(response.headers['x-frame-options'], 'DENY');
      assert.equal(response.headers['x-content-type-options'], 'nosniff');
      assert.equal(response.headers['referrer-policy'], 'same-origin');
      assert.equal(response.headers['cache-control'], 'no-store');
      assert.doesNotMatch(response.body, /<script>|<style|style="|\son[a-z]+="/i, `${url}: no inline script, style or handler`);
    }
    const css = await c.get('/console/assets/console.css');
    assert.equal(css.status, 200);
    assert.match(String(css.headers['content-type']), /^text\/css/);
    for (const name of ['nope.js', 'constructor', '__proto__', 'toString']) assert.equal((await c.get(`/console/assets/${name}`)).status, 404, name);
  });
});

describe('console: CSRF', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp();
  });
  after(() => t.close());

  const form = () => ({ name: `csrf ${randomBytes(4).toString('hex')}`, client_id: `csrf-${randomBytes(4).toString('hex')}`, client_secret: randomSecret() });

  test('a form posted without its token, or with another session\'s token, is refused and changes nothing', async () => {
    const c = await admin(t);
    const other = await admin(t);
    await other.get('/console/applications/new');
    await c.get('/console/applications/new');
    const digest = await storeDigest(t.app.store.db);
    for (const token of [null, '', 'x'.repeat(43), other.csrf]) {
      const response = await c.post('/console/applications', { ...form(), _csrf: token });
      assert.equal(response.status, 403, String(token));
      assert.match(text(response), /This form has expired or did not come from this console/);
    }
    assert.equal(await storeDigest(t.app.store.db), digest);
    // The same form with the page's own token is accepted.
    assert.equal((await c.post('/console/applications', form())).status, 303);
  });

  test('a cross-site or cross-origin POST is refused even with a valid session and token', async () => {
    const c = await admin(t);
    await c.get('/console/applications/new');
    const digest = await storeDigest(t.app.store.db);
    const foreign: Array<Record<string, string>> = [{ 'sec-fetch-site': 'cross-site' }, { 'sec-fetch-site': 'same-site' }, { origin: 'http://evil.example' }, { origin: 'null' }];
    for (const headers of foreign) {
      const response = await c.post('/console/applications', form(), headers);
      assert.equal(response.status, 403, JSON.stringify(headers));
      assert.match(text(response), /sent from another site/);
    }
    assert.equal(await storeDigest(t.app.store.db), digest);
    const sameOrigin = await c.post('/console/applications', form(), { 'sec-fetch-site': 'same-origin', origin: 'http://localhost' });
    assert.equal(sameOrigin.status, 303);
  });

  test('the sign-in form has its own token, bound to a pre-session cookie', async () => {
    const c = client(t);
    await c.get('/console/login');
    assert.equal((await c.post('/console/login', { ...ADMIN, _csrf: null })).status, 403);
    const stranger = client(t);
    await stranger.get('/console/login');
    assert.equal((await c.post('/console/login', { ...ADMIN, _csrf: stranger.csrf })).status, 403);
    assert.equal(c.sessionToken, undefined);
    assert.equal((await c.post('/console/login', ADMIN)).status, 303);
  });
});

describe('console: applications', () => {
  let t: TestApp;
  let c: ConsoleClient;
  before(async () => {
    t = await buildTestApp();
    c = await admin(t);
  });
  after(() => t.close());

  test('create: every problem is shown next to its field, from the API\'s own rules; nothing is written', async () => {
    await c.get('/console/applications/new');
    const digest = await storeDigest(t.app.store.db);
    const response = await c.post('/console/applications', { name: '   ', client_id: '', client_secret: '', dialect_name: 'Snow Flake' });
    assert.equal(response.status, 422);
    assert.match(response.body, /There are 4 problems/);
    for (const [field, message] of [
      ['name', 'Must not be blank.'],
      ['client_id', 'This field is required.'],
      ['client_secret', 'This field is required.'],
      ['dialect_name', 'Must be a dialect name of lower-case letters'],
    ]) {
      assert.match(response.body, new RegExp(`<p class="field-error" id="error-${field}">${message}`), field);
      assert.match(response.body, new RegExp(`id="field-${field}"[^>]*aria-describedby="[^"]*error-${field}"[^>]*aria-invalid="true"`), field);
    }
    assert.doesNotMatch(response.body, /"message"|"errors"|Validation Failed/, 'never raw JSON');
    assert.equal(await storeDigest(t.app.store.db), digest);
  });

  test('create, list, search, edit and rotate, delete with the count of users whose tokens go with it', async () => {
    await c.get('/console/applications/new');
    const secret = randomSecret();
    const name = '<b>Snow</b> & "Flake"';
    const clientId = 'snow/flake ?#%20';
    const base = { name, client_id: clientId, client_secret: secret, dialect_name: 'snowflake', bi_directional_data_access: 'true' };
    // Choosing Snowflake asks for the account URL, beside its field; nothing is written without it.
    const noAccount = await c.post('/console/applications', base);
    assert.equal(noAccount.status, 422);
    assert.match(noAccount.body, /id="error-provider_url">Snowflake needs the account URL/);
    assert.match(noAccount.body, /id="field-provider_url"[^>]* aria-describedby="hint-provider_url error-provider_url" aria-invalid="true"/);
    assert.match(noAccount.body, /EOA_PUBLIC_URL is not set, so this service has no redirect URI yet/);
    const created = await c.post('/console/applications', { ...base, provider_url: 'https://acme-xy12345.snowflakecomputing.com' });
    assert.equal(created.status, 303);
    const list = await c.follow(created);
    assert.match(list.body, /Application created\./);
    assert.ok(list.body.includes('&lt;b&gt;Snow&lt;/b&gt; &amp; &quot;Flake&quot;'), 'text is escaped');
    assert.ok(!list.body.includes('<b>Snow'));
    assert.ok(!list.body.includes(secret), 'the client secret is never shown');
    const editPath = `/console/applications/${encodeURIComponent(clientId)}/edit`;
    assert.ok(list.body.includes(`href="${editPath}"`));

    const stored = json(await t.inject({ method: 'GET', url: `/api/4.0/external_oauth_applications?client_id=${encodeURIComponent(clientId)}`, headers: bearer(t.adminToken) }))[0];
    assert.equal(stored.dialect_name, 'snowflake');
    assert.equal(stored.bi_directional_data_access, true);
    assert.equal(stored.provider_url, 'https://acme-xy12345.snowflakecomputing.com');
    assert.equal(await t.app.services.externalOauthApplications.openClientSecret(clientId), secret);

    const search = await c.get(`/console/applications?q=${encodeURIComponent('SNOW/F')}`);
    assert.ok(search.body.includes(editPath));
    assert.match(text(await c.get('/console/applications?q=nothing-like-this')), /No application matches this search/);

    const edit = await c.get(editPath);
    assert.match(edit.body, /value="&lt;b&gt;Snow&lt;\/b&gt; &amp; &quot;Flake&quot;"/);
    assert.doesNotMatch(edit.body, /name="client_secret"[^>]*value="[^"]+"/, 'the secret field starts empty');
    const rotated = randomSecret();
    const saved = await c.post(editPath, { name: 'Snowflake', client_secret: rotated, dialect_name: 'snowflake', provider_url: 'https://acme-xy12345.snowflakecomputing.com' });
    assert.equal(saved.status, 303);
    assert.match((await c.follow(saved)).body, /client secret rotated\./);
    assert.equal(await t.app.services.externalOauthApplications.openClientSecret(clientId), rotated);
    // The overlap window: the previous secret is kept until a time the API reports too.
    const until = json(await t.inject({ method: 'GET', url: `/api/4.0/external_oauth_applications?client_id=${encodeURIComponent(clientId)}`, headers: bearer(t.adminToken) }))[0].previous_secret_expires_at;
    assert.ok(until);
    assert.ok(text(await c.get(editPath)).includes(`the previous secret is kept until ${until.replace('T', ' ').replace(/\.\d+Z$|Z$/, ' UTC')}`));
    // An empty secret keeps the current one.
    await c.get(editPath);
    assert.equal((await c.post(editPath, { name: 'Snowflake', client_secret: '', tenant_id: 'tenant-1' })).status, 303);
    assert.equal(await t.app.services.externalOauthApplications.openClientSecret(clientId), rotated);

    // Two users hold tokens for it: the confirmation says so.
    for (const userId of ['1', (await t.newUser()).id]) {
      const state = await t.inject({
        method: 'POST',
        url: '/api/4.0/external_oauth_applications/user_state',
        headers: bearer(t.adminToken),
        payload: { user_id: userId, oauth_application_id: stored.id, access_token: randomSecret(), access_token_expires_at: '2030-01-01T00:00:00Z' },
      });
      assert.equal(state.statusCode, 200);
    }
    const confirm = await c.get(`/console/applications/${encodeURIComponent(clientId)}/delete`);
    assert.match(text(confirm), /2 users' stored tokens for it will be deleted with it/);
    const deleted = await c.post(`/console/applications/${encodeURIComponent(clientId)}/delete`);
    assert.equal(deleted.status, 303);
    assert.match((await c.follow(deleted)).body, /Application deleted\./);
    assert.equal(json(await t.inject({ method: 'GET', url: `/api/4.0/external_oauth_applications?client_id=${encodeURIComponent(clientId)}`, headers: bearer(t.adminToken) })).length, 0);
    assert.equal((await c.get(editPath)).status, 404);
  });

  test('a taken client_id or name is shown on that field', async () => {
    const existing = await createApplication(t);
    await c.get('/console/applications/new');
    const byClientId = await c.post('/console/applications', { name: 'Unique name 1', client_id: existing.client_id, client_secret: randomSecret() });
    assert.equal(byClientId.status, 422);
    assert.match(byClientId.body, /id="error-client_id">An External OAuth Application with this client_id already exists/);
    const byName = await c.post('/console/applications', { name: existing.name, client_id: 'unique-client-1', client_secret: randomSecret() });
    assert.match(byName.body, /id="error-name">An External OAuth Application with this name already exists/);
  });

  test('the list pages 25 at a time', async () => {
    const fresh = await buildTestApp();
    try {
      for (let i = 0; i < 27; i += 1) await createApplication(fresh, `Paged ${String(i).padStart(2, '0')}`);
      const pc = await admin(fresh);
      const first = await pc.get('/console/applications');
      assert.equal((first.body.match(/<tr>\n<td>/g) ?? []).length, 25);
      assert.match(first.body, /href="\/console\/applications\?page=2" rel="next"/);
      const second = await pc.get('/console/applications?page=2');
      assert.equal((second.body.match(/<tr>\n<td>/g) ?? []).length, 2);
      assert.doesNotMatch(second.body, /rel="next"/);
      const searched = await pc.get('/console/applications?q=paged&page=2');
      assert.equal((searched.body.match(/<tr>\n<td>/g) ?? []).length, 2);
      assert.match(searched.body, /href="\/console\/applications\?q=paged&amp;page=1" rel="prev"/);
    } finally {
      await fresh.close();
    }
  });
});

describe('console: users, roles and API credentials', () => {
  let t: TestApp;
  let c: ConsoleClient;
  before(async () => {
    t = await buildTestApp();
    c = await admin(t);
  });
  after(() => t.close());

  test('create a user with a role, edit them, create API credentials shown once, disable and delete them', async () => {
    await c.get('/console/users/new');
    const invalid = await c.post('/console/users', { first_name: 'Ada', email: 'not an email', role_ids: '2' });
    assert.equal(invalid.status, 422);
    assert.match(invalid.body, /id="error-email">Has an invalid format\./);
    const created = await c.post('/console/users', { first_name: 'Ada', last_name: 'Lovelace', email: 'ada@example.com', role_ids: '2' });
    assert.equal(created.status, 303);
    const userId = /\/console\/users\/(\d+)\?done=created/.exec(created.location!)![1];
    const page = await c.follow(created);
    assert.match(page.body, /<h1>Ada Lovelace<\/h1>/);
    assert.match(page.body, /id="role-2" name="role_ids" value="2" checked/);

    assert.equal((await c.post(`/console/users/${userId}`, { first_name: 'Ada', last_name: 'King', email: 'ada@example.com' })).status, 303);
    assert.equal((await c.post(`/console/users/${userId}/roles`, { role_ids: ['1', '2'] })).status, 303);
    const user = json(await t.inject({ method: 'GET', url: `/api/4.0/users/${userId}`, headers: bearer(t.adminToken) }));
    assert.equal(user.last_name, 'King');
    assert.deepEqual(user.role_ids, ['1', '2']);

    await c.get(`/console/users/${userId}`);
    const shown = await c.post(`/console/users/${userId}/credentials`, { purpose: 'CI pipeline' });
    assert.equal(shown.status, 200, 'a page, not a redirect: the secret is never in a URL');
    assert.equal(shown.headers['cache-control'], 'no-store');
    const secret = shownSecret(shown.body)!;
    const clientId = /id="new-client-id">([^<]+)</.exec(shown.body)![1];
    assert.match(shown.body, /data-copy="new-client-secret" data-copied="Client secret copied to the clipboard." hidden>Copy secret<\/button>/);
    // The shown credentials work, and the secret is on no other page.
    const member = client(t);
    await member.signIn({ client_id: clientId, client_secret: secret });
    const detail = await c.get(`/console/users/${userId}`);
    assert.ok(detail.body.includes(clientId));
    assert.ok(!detail.body.includes(secret));

    const credentialsId = json(await t.inject({ method: 'GET', url: `/api/4.0/users/${userId}/credentials_api3`, headers: bearer(t.adminToken) }))[0].id;
    assert.equal((await c.post(`/console/users/${userId}/credentials/${credentialsId}`, { is_disabled: 'true' })).status, 303);
    assert.equal((await member.get('/console/connections')).location, '/console/login', 'disabling the credentials ended their console session');
    assert.equal((await c.post(`/console/users/${userId}/credentials/${credentialsId}/delete`)).status, 303);
    assert.deepEqual(json(await t.inject({ method: 'GET', url: `/api/4.0/users/${userId}/credentials_api3`, headers: bearer(t.adminToken) })), []);

    assert.match(text(await c.get(`/console/users/${userId}/delete`)), /You are about to delete the user Ada King/);
    assert.equal((await c.post(`/console/users/${userId}/delete`)).status, 303);
    assert.equal((await t.inject({ method: 'GET', url: `/api/4.0/users/${userId}`, headers: bearer(t.adminToken) })).statusCode, 404);
  });

  test('a role that does not exist is a problem on the roles field, and no user is created without it', async () => {
    await c.get('/console/users/new');
    const before = json(await t.inject({ method: 'GET', url: '/api/4.0/users', headers: bearer(t.adminToken) })).length;
    const response = await c.post('/console/users', { first_name: 'Nobody', role_ids: ['2', '99'] });
    assert.equal(response.status, 422);
    assert.match(response.body, /id="error-role_ids">Role 99 does not exist/);
    assert.equal(json(await t.inject({ method: 'GET', url: '/api/4.0/users', headers: bearer(t.adminToken) })).length, before);
  });

  test('the service\'s rules show on their field: an admin cannot disable themself or drop their own Admin role', async () => {
    await c.get('/console/users/1');
    const disable = await c.post('/console/users/1', { first_name: 'Admin', is_disabled: 'true' });
    assert.equal(disable.status, 422);
    assert.match(disable.body, /id="error-is_disabled">You cannot disable yourself/);
    const roles = await c.post('/console/users/1/roles', { role_ids: '2' });
    assert.equal(roles.status, 422);
    assert.match(roles.body, /id="error-role_ids">You cannot remove your own Admin role/);
    assert.deepEqual(json(await t.inject({ method: 'GET', url: '/api/4.0/users/1', headers: bearer(t.adminToken) })).role_ids, ['1']);
    assert.doesNotMatch((await c.get('/console/users/1')).body, /Delete this user/);
  });

  test('the roles page lists the built-in roles', async () => {
    const page = await c.get('/console/roles');
    assert.equal(page.status, 200);
    assert.match(text(page), /Admin Everything/);
    assert.match(text(page), /User Signing in/);
  });
});

describe('console: my connections and what a non-admin can reach', () => {
  let t: TestApp;
  let member: Awaited<ReturnType<TestApp['newUser']>>;
  let ids: ConsoleIds;
  before(async () => {
    t = await buildTestApp();
    member = await t.newUser();
    const victim = await t.newUser();
    const credentialsId = json(await t.inject({ method: 'GET', url: `/api/4.0/users/${victim.id}/credentials_api3`, headers: bearer(t.adminToken) }))[0].id;
    const application = await createApplication(t, 'Warehouse');
    ids = { clientId: application.client_id, userId: victim.id, credentialsId };
  });
  after(() => t.close());

  test('every registered console route is in the route table, and none is in the OpenAPI document', async () => {
    const table = CONSOLE_ROUTES.map((r) => `${r.method} ${r.route}`).sort();
    assert.deepEqual(registeredRoutes(t.app).filter((r) => / \/(console|$)/.test(r)), table);
    const documented = Object.keys((t.app.swagger() as { paths: object }).paths);
    assert.deepEqual(documented.filter((p) => p.startsWith('/console') || p === '/'), []);
  });

  test('a non-admin lands on My connections, which shows each application and whether their tokens are stored', async () => {
    const application = json(await t.inject({ method: 'GET', url: `/api/4.0/external_oauth_applications?client_id=${encodeURIComponent(ids.clientId)}`, headers: bearer(t.adminToken) }))[0];
    const c = client(t);
    const landing = await c.signIn(member);
    assert.equal(landing.location, '/console/connections');
    const before = await c.follow(landing);
    assert.match(text(before), /Warehouse Not connected Not set up for connecting yet/);
    assert.doesNotMatch(before.body, /\/connect"/, 'no Connect button without a provider');
    assert.doesNotMatch(before.body, /href="\/console\/(applications|users|roles)"/, 'no admin links');
    const token = randomSecret();
    const stored = await t.inject({
      method: 'POST',
      url: '/api/4.0/external_oauth_applications/user_state',
      headers: bearer(member.token),
      payload: { user_id: member.id, oauth_application_id: application.id, access_token: token, access_token_expires_at: '2030-01-01T00:00:00Z', refresh_token: randomSecret() },
    });
    assert.equal(stored.statusCode, 200);
    const after = await c.get('/console/connections');
    assert.match(text(after), /Warehouse Connected Access token valid until 2030-01-01 00:00:00 UTC\. Renewed automatically\./);
    assert.ok(!after.body.includes(token));
  });

  for (const route of CONSOLE_ROUTES) {
    const label = `${route.method} ${route.route}`;
    if (route.access !== 'public') {
      test(`${label} signed out → sent to sign in, nothing done`, async () => {
        const digest = await storeDigest(t.app.store.db);
        const c = client(t);
        const response = route.method === 'GET' ? await c.get(route.path(ids)) : await c.post(route.path(ids), route.form ?? {});
        assert.equal(response.status, 303);
        assert.equal(response.location, '/console/login');
        assert.equal(await storeDigest(t.app.store.db), digest);
      });
    }
    if (route.access === 'admin') {
      test(`${label} by a non-admin with a valid session and token → 404, nothing done`, async () => {
        const c = client(t);
        await c.signIn(member);
        await c.get('/console/connections');
        const digest = await storeDigest(t.app.store.db);
        const response = route.method === 'GET' ? await c.get(route.path(ids)) : await c.post(route.path(ids), route.form ?? {});
        assert.equal(response.status, 404);
        assert.match(response.body, /<h1>Not found<\/h1>/);
        assert.equal(await storeDigest(t.app.store.db), digest);
      });
    }
  }
});

describe('console: the OAuth broker and the audit log, against the real authorization server', () => {
  let op: TestProvider;
  let t: TestApp;
  let c: ConsoleClient;
  let member: Awaited<ReturnType<TestApp['newUser']>>;
  const oauthClient = newClient();
  const appPath = `/console/applications/${encodeURIComponent(oauthClient.client_id)}`;
  const consoleClient = () => new ConsoleClient(injectTransport(t.app), { origin: PUBLIC_URL });

  before(async () => {
    op = await startTestProvider({ clients: [oauthClient] });
    auditProviderTokens(op);
    t = await buildTestApp({ EOA_PUBLIC_URL: PUBLIC_URL });
    member = await t.newUser();
    c = consoleClient();
    await c.signIn(ADMIN);
  });
  after(async () => {
    await t?.close();
    await op?.stop();
  });

  /** Plays the member's browser: the console's Connect button, the provider's login and consent, the callback. */
  async function connect(m: ConsoleClient, label: 'Connect' | 'Reconnect') {
    const page = await m.get('/console/connections');
    assert.match(page.body, new RegExp(`action="/console/connections/${encodeURIComponent(oauthClient.client_id)}/connect">[^]*?${label}<span`));
    // Browsers check form-action on every redirect of a form: this page allows the provider's origin, and only it.
    assert.equal(page.headers['content-security-policy'], CONTENT_SECURITY_POLICY.replace("form-action 'self'", `form-action 'self' ${new URL(op.issuer).origin}`));
    const started = await m.post(`/console/connections/${encodeURIComponent(oauthClient.client_id)}/connect`);
    assert.equal(started.headers['content-security-policy'], CONTENT_SECURITY_POLICY);
    assert.equal(started.status, 303);
    assert.ok(started.location!.startsWith(`${op.issuer}/`), String(started.location));
    const back = await op.authorize(started.location!, { accountId: `account-${member.id}` });
    const callback = await t.inject({ method: 'GET', url: `/external_oauth/redirect${back.search}` });
    assert.equal(callback.statusCode, 303);
    assert.equal(callback.headers.location, `${PUBLIC_URL}/console/connections?done=connected`, "back to the console's connections page");
  }

  test('an application with its provider settings: the redirect URI to register, the credential check, rotation with its overlap', async () => {
    const form = await c.get('/console/applications/new');
    assert.match(form.body, new RegExp(`<code id="redirect-uri">${REDIRECT_URI}</code>`));
    const created = await c.post('/console/applications', {
      name: 'Test provider',
      client_id: oauthClient.client_id,
      client_secret: oauthClient.client_secret,
      issuer: op.issuer,
      scopes: 'refresh_token',
    });
    assert.equal(created.status, 303);
    await c.get(`${appPath}/edit`);
    const ok = await c.post(`${appPath}/check`);
    assert.equal(ok.status, 200);
    assert.match(text(ok), /OK: the provider accepts the client ID and secret\./);

    // A bad setting is shown beside its field, from the service's own rules.
    const bad = await c.post(`${appPath}/edit`, { name: 'Test provider', issuer: op.issuer, scopes: 'refresh_token', token_endpoint: 'not a url' });
    assert.equal(bad.status, 422);
    assert.match(bad.body, /id="error-token_endpoint">/);
  });

  test('a member connects from My connections through the provider, and sees the status turn connected', async () => {
    const m = consoleClient();
    await m.signIn(member);
    assert.match(text(await m.get('/console/connections')), /Test provider Not connected Connect Test provider/);
    await connect(m, 'Connect');
    const page = await m.get('/console/connections?done=connected');
    assert.match(text(page), /Connected\. .*Test provider Connected Access token valid until [^.]+\. Renewed automatically\./);
    assert.match(page.body, /class="danger">Disconnect<span class="visually-hidden"> Test provider<\/span>/);
  });

  test("the admin sees every user's connection to the application, and a Revoke without its token is refused", async () => {
    const page = await c.get(`${appPath}/connections`);
    assert.equal(page.status, 200);
    assert.match(text(page), new RegExp(`User ${member.id} Active \\d{4}-\\d\\d-\\d\\d [\\d:]+ UTC held`));
    const revokePath = `${appPath}/connections/${member.id}/revoke`;
    const digest = await storeDigest(t.app.store.db);
    const forged = await c.post(revokePath, { _csrf: null });
    assert.equal(forged.status, 403);
    const crossSite = await c.post(revokePath, {}, { 'sec-fetch-site': 'cross-site' });
    assert.equal(crossSite.status, 403);
    assert.equal(await storeDigest(t.app.store.db), digest, 'nothing changed');

    const revoked = await c.post(revokePath);
    assert.equal(revoked.status, 303);
    const after = await c.follow(revoked);
    assert.match(after.body, /The user&#39;s connection was revoked\./);
    assert.match(text(after), /No user is connected to this application\./);
    const state = await t.inject({ method: 'GET', url: userStatePath(oauthClient.client_id, member.id), headers: bearer(t.adminToken) });
    assert.equal(state.statusCode, 404);
  });

  test('the member reconnects and disconnects themself; the audit log shows who did what, filtered and newest first', async () => {
    const m = consoleClient();
    await m.signIn(member);
    assert.match(text(await m.get('/console/connections')), /Test provider Not connected/);
    await connect(m, 'Connect');
    // The refresher's verdict when the provider refuses the refresh token (written as it writes it): both pages say so.
    await t.app.store.db.updateTable('oauth_application_user_states').set({ status: 'needs_reauth', last_error: 'invalid_grant' }).where('user_id', '=', member.id).execute();
    const stale = await m.get('/console/connections');
    assert.match(text(stale), /Test provider Needs reconnecting The provider no longer accepts your refresh token\. Reconnect Test provider Disconnect Test provider/);
    assert.match(text(await c.get(`${appPath}/connections`)), new RegExp(`User ${member.id} Needs reconnecting .* invalid_grant Revoke`));
    const gone = await m.post(`/console/connections/${encodeURIComponent(oauthClient.client_id)}/disconnect`);
    assert.equal(gone.status, 303);
    assert.match(text(await m.follow(gone)), /Disconnected: .*Test provider Not connected/);

    const target = `${member.id}/${oauthClient.client_id}`;
    const log = await c.get(`/console/audit-events?target_id=${encodeURIComponent(target)}`);
    assert.equal(log.status, 200);
    const rows = [...text(log).matchAll(/UTC (User \d+) (user_state\.\w+) /g)].map((r) => `${r[1]} ${r[2]}`);
    assert.deepEqual(rows, [
      `User ${member.id} user_state.delete`,
      `User ${member.id} user_state.connect`,
      'User 1 user_state.delete',
      `User ${member.id} user_state.connect`,
    ]);
    const byAction = await c.get(`/console/audit-events?action=user_state.delete&actor_user_id=1`);
    assert.deepEqual([...text(byAction).matchAll(/UTC User 1 (\S+) (\S+) /g)].map((r) => `${r[1]} ${r[2]}`), [`user_state.delete ${target}`]);
    const future = await c.get(`/console/audit-events?since=2100-01-01T00:00:00Z`);
    assert.match(text(future), /No event matches these filters\./);
  });

  test('audit log: bad filters are shown beside their fields, and pages follow the cursor', async () => {
    const bad = await c.get('/console/audit-events?since=yesterday&actor_user_id=me&action=nothing');
    assert.equal(bad.status, 422);
    assert.match(bad.body, /id="error-since">Must be a date and time/);
    assert.match(bad.body, /id="error-actor_user_id">Must be a user ID/);
    assert.match(bad.body, /id="error-action">Must be one of the listed actions/);
    assert.match(bad.body, /<select id="field-action" name="action" aria-invalid="true" aria-describedby="error-action">/);
    assert.equal((await c.get('/console/audit-events?cursor=not-a-cursor')).status, 422);

    // 60 events of one kind: 50 on the first page, the next 10 behind its cursor.
    for (let i = 0; i < 60; i += 1) {
      const made = await t.inject({ method: 'POST', url: '/api/4.0/users', headers: bearer(t.adminToken), payload: { first_name: `Paged ${i}` } });
      assert.equal(made.statusCode, 200);
    }
    const first = await c.get('/console/audit-events?action=user.create');
    const firstRows = first.body.match(/<code>user\.create<\/code>/g) ?? [];
    assert.equal(firstRows.length, 50);
    const next = /href="([^"]+)" rel="next">Older events/.exec(first.body)![1].replace(/&amp;/g, '&');
    assert.match(next, /^\/console\/audit-events\?action=user\.create&cursor=/);
    const second = await c.get(next);
    // The 60 users made here, the member made in before() and the bootstrapped admin.
    assert.equal((second.body.match(/<code>user\.create<\/code>/g) ?? []).length, 12);
    assert.doesNotMatch(second.body, /rel="next"/);
    assert.match(second.body, /href="\/console\/audit-events\?action=user\.create">Newest events/);
  });
});
