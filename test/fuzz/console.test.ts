import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ADMIN, bearer, buildTestApp, json, type TestApp } from '../helpers/app.ts';
import { ConsoleClient, injectTransport } from '../helpers/console-client.ts';
import { randomSecret } from '../reliability/support.ts';
import { CONSOLE_ROUTES, type ConsoleIds } from '../helpers/routes.ts';

/**
 * Property-based fuzzing of every console form, as a signed-in admin with a valid CSRF token (so the
 * handlers, not the CSRF check, see the input): generated fields of every kind (unicode, NUL, over-long,
 * repeated keys, prototype keys, raw bytes that are not urlencoded at all) and content types. Properties:
 *   1. never a 5xx;
 *   2. always an HTML page or a redirect, never raw JSON;
 *   3. no secret the test knows (the admin's, the applications') in any page.
 * EOA_FUZZ_RUNS (default 80) cases per route; EOA_FUZZ_SEED replays a run.
 */
const RUNS = Number(process.env.EOA_FUZZ_RUNS ?? 80);
const SEED = process.env.EOA_FUZZ_SEED ? Number(process.env.EOA_FUZZ_SEED) : Date.now() ^ (Math.random() * 0x7fffffff);

const FIELDS = ['name', 'client_id', 'client_secret', 'tenant_id', 'dialect_name', 'bi_directional_data_access', 'first_name', 'last_name', 'email', 'locale', 'is_disabled', 'role_ids', 'purpose', 'provider_url', 'authorization_endpoint', 'token_endpoint', 'revocation_endpoint', 'issuer', 'scopes', 'token_endpoint_auth_method'];
const value = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.constantFrom('', ' ', 'true', 'false', '1', '2', '3', 'snowflake', 'Snow Flake', 'a@b', '\u0000', '\ud800', 'x'.repeat(5000)),
  fc.string({ unit: 'binary', maxLength: 300 }),
);
/** Percent-encodes the UTF-8 bytes (a lone surrogate becomes U+FFFD, as a browser would send it). */
const encode = (text: string) => [...Buffer.from(text, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
const formText = fc
  .array(fc.tuple(fc.oneof(fc.constantFrom(...FIELDS, '__proto__', 'constructor', 'prototype', '_csrf[]'), fc.string({ maxLength: 10 })), value), { maxLength: 10 })
  .map((pairs) => pairs.map(([k, v]) => `${encode(k)}=${encode(v)}`).join('&'));
const payload = fc.oneof(
  { weight: 8, arbitrary: formText },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 300 }) },
  { weight: 1, arbitrary: fc.constantFrom('%', '%zz', '&&&', '=', 'a=%E0%A4%A', 'name=%FF%FE&client_id=%C0%AF', `name=${'y'.repeat(1_100_000)}`) },
);
const contentType = fc.oneof(
  { weight: 8, arbitrary: fc.constant('application/x-www-form-urlencoded') },
  { weight: 1, arbitrary: fc.constantFrom('application/json', 'text/plain', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded; charset=latin1') },
);

describe('fuzzing every console form', () => {
  let t: TestApp;
  let ids: ConsoleIds;
  const secrets = [ADMIN.client_secret];
  before(async () => {
    t = await buildTestApp();
    const victim = await t.newUser();
    const credentialsId = json(await t.inject({ method: 'GET', url: `/api/4.0/users/${victim.id}/credentials_api3`, headers: bearer(t.adminToken) }))[0].id;
    const secret = randomSecret();
    secrets.push(secret, victim.client_secret);
    const application = json(
      await t.inject({ method: 'POST', url: '/api/4.0/external_oauth_applications', headers: bearer(t.adminToken), payload: { name: 'Fuzzed', client_id: 'fuzzed', client_secret: secret } }),
    );
    ids = { clientId: application.client_id, userId: victim.id, credentialsId };
  });
  after(() => t.close());

  // Signing out would end the session every other case needs; sign-in is fuzzed like the rest.
  for (const route of CONSOLE_ROUTES.filter((r) => r.method === 'POST' && r.route !== '/console/logout')) {
    test(`POST ${route.route}`, async () => {
      const c = new ConsoleClient(injectTransport(t.app));
      await c.signIn(ADMIN);
      const token = c.csrf!;
      const property = fc.asyncProperty(payload, contentType, async (body, type) => {
        const sent = await t.app.inject({
          method: 'POST',
          url: route.path(ids),
          headers: { cookie: [...c.cookies].map(([k, v]) => `${k}=${v}`).join('; '), 'content-type': type },
          payload: `_csrf=${token}&${body}`,
        });
        assert.ok(sent.statusCode < 500, `${sent.statusCode}: ${sent.body.slice(0, 300)}`);
        if (sent.statusCode === 303) return;
        assert.match(String(sent.headers['content-type']), /^text\/html/, `${sent.statusCode}: ${sent.body.slice(0, 200)}`);
        for (const secret of secrets) assert.ok(!sent.body.includes(secret), 'no known secret in a page');
      });
      await fc.assert(property, { numRuns: RUNS, seed: SEED });
    });
  }
});
