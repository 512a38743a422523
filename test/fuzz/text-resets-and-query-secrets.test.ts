import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import fc from 'fast-check';
import { ADMIN, bearer, buildTestApp, json, loginToken, type TestApp } from '../helpers/app.ts';
import { assertSchema } from '../helpers/contract.ts';
import { auditSecret } from '../helpers/audit.ts';
import { randomSecret, storeDigest } from '../reliability/support.ts';
import { sample, stringPaths, withRawAt } from '../helpers/served-document.ts';
import { pathOf, servedRoutes, type ServedRoute } from '../helpers/routes.ts';

/**
 * The classes of issue 10 (round 2 of the outside probe), on every route of the route table
 * (test/helpers/routes.ts, held to what the app serves by test/api/route-table.test.ts), documented or not.
 *   - a lone UTF-16 surrogate in every string of every body, in every key, in every path parameter and
 *     in query names and values: 422 naming the field / 404 / 400, and nothing stored;
 *   - a secret in the query string under any name: never in the log;
 *   - a client that resets its connection mid-headers, mid-body or right after sending: no error-level
 *     log line, and the server keeps serving.
 * EOA_FUZZ_RUNS (default 80) cases for the generated properties; EOA_FUZZ_SEED replays a run.
 */
const RUNS = Number(process.env.EOA_FUZZ_RUNS ?? 80);
const SEED = process.env.EOA_FUZZ_SEED ? Number(process.env.EOA_FUZZ_SEED) : Date.now() ^ (Math.random() * 0x7fffffff);

// The route table with its schemas, read from an app built once for that purpose: node:test needs the tests
// declared up front.
const ALL_ROUTES: ServedRoute[] = await (async () => {
  const probe = await buildTestApp();
  try {
    return servedRoutes(probe.app);
  } finally {
    await probe.close();
  }
})();
const ROUTES = ALL_ROUTES.filter((r) => !r.hidden);
const BODY_ROUTES = ROUTES.filter((r) => r.bodySchema !== undefined);
const PARAM_ROUTES = ROUTES.filter((r) => r.params.length > 0);

/** Log lines at error level or above (pino: error 50, fatal 60); a line that is not JSON counts too. */
function errorLines(logs: string[]): string[] {
  return logs.filter((line) => {
    try {
      return JSON.parse(line).level >= 50;
    } catch {
      return true;
    }
  });
}

interface Fixture {
  t: TestApp;
  member: { id: string; client_id: string; client_secret: string; token: string };
  application: { id: string; client_id: string };
  credentials: string;
}

/** An app with a member (and their API credentials) and an application, so every path names something real. */
async function fixture(env: Record<string, string> = {}): Promise<Fixture> {
  const t = await buildTestApp({ EOA_LOGIN_GUARD_MAX: '100000', ...env });
  const member = await t.newUser();
  const created = await t.inject({
    method: 'POST', url: '/api/4.0/external_oauth_applications', headers: bearer(t.adminToken),
    payload: { name: 'fuzz', client_id: 'fuzz/app ?#%', client_secret: randomSecret() },
  });
  assert.equal(created.statusCode, 200);
  const [credentials] = await t.app.repos.credentials.listForUser(member.id);
  return { t, member, application: json(created), credentials: credentials.id };
}

/** The route's path with its parameters naming the fixture's member, credentials and application. */
function realPath(route: ServedRoute, f: Fixture, override: Record<string, string> = {}): string {
  const named: Record<string, string> = { user_id: f.member.id, credentials_api3_id: f.credentials, client_id: encodeURIComponent(f.application.client_id) };
  return pathOf(route, Object.fromEntries(route.params.map((name) => [name, override[name] ?? named[name] ?? '1'])));
}

function fieldOf(path: string[]): string {
  return path.join('.');
}

describe('lone surrogates, on every route', () => {
  let f: Fixture;
  let digest = '';
  before(async () => {
    f = await fixture();
    digest = await storeDigest(f.t.app.store.db);
  });
  after(() => f.t.close());

  const send = (route: ServedRoute, url: string, payload?: string) =>
    f.t.inject({
      method: route.method,
      url,
      headers: { ...bearer(f.t.adminToken), ...(payload === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(payload === undefined ? {} : { payload }),
    });

  test('the route table has routes of every kind', () => {
    assert.ok(BODY_ROUTES.length >= 8, `${BODY_ROUTES.length} routes with a body`);
    assert.ok(PARAM_ROUTES.length >= 10, `${PARAM_ROUTES.length} routes with path parameters`);
  });

  for (const route of BODY_ROUTES) {
    test(`${route.method} ${route.path} (${route.operationId}): every string of the body, and a key, → 422 naming it`, async () => {
      const valid = sample(route.bodySchema);
      const paths = stringPaths(valid);
      assert.ok(paths.length > 0 || Array.isArray(valid) || Object.keys(valid as object).length >= 0);
      for (const path of paths) {
        for (const lone of ['"\\ud800"', '"x\\udfff"', '"\\ud83dx"']) {
          const response = await send(route, realPath(route, f), withRawAt(valid, path, lone));
          const where = `${route.operationId} ${fieldOf(path)} = ${lone} → ${response.statusCode}`;
          assert.equal(response.statusCode, 422, `${where}: ${response.body}`);
          assertSchema('ValidationError', json(response));
          assert.deepEqual(json(response).errors.map((e: { field: string }) => e.field), [fieldOf(path)], where);
        }
      }
      if (!Array.isArray(valid)) {
        const text = JSON.stringify(valid).replace(/^\{/, '{"\\udc00":"v"' + (Object.keys(valid as object).length > 0 ? ',' : ''));
        const response = await send(route, realPath(route, f), text);
        assert.equal(response.statusCode, 422, `${route.operationId} key: ${response.body}`);
        assert.deepEqual(json(response).errors.map((e: { field: string }) => e.field), ['\ufffd']);
      }
      assert.equal(await storeDigest(f.t.app.store.db), digest, `${route.operationId}: a refused body changed the store`);
    });
  }

  test('any JSON body with a lone surrogate in any string or key, on any route that takes a body: 422, nothing stored', async () => {
    const writes = ALL_ROUTES.filter((r) => r.method !== 'GET');
    const surrogate = fc.constantFrom('\ud800', '\udbff', '\udc00', '\udfff');
    const spoiled = fc
      .tuple(fc.string({ maxLength: 8 }), surrogate, fc.string({ maxLength: 8 }))
      // fc.string is ASCII by default, so the surrogate never finds a partner.
      .map(([a, s, b]) => `${a}${s}${b}`);
    // A prototype key is refused before any text is read (400, the endpoints fuzz covers it): kept out here.
    const value = fc.jsonValue({ maxDepth: 3 }).filter((v) => !/"(__proto__|constructor)"/.test(JSON.stringify(v)));
    const body = fc.tuple(value, spoiled, fc.boolean(), fc.nat()).map(([value, bad, asKey, at]) => {
      const holder: Record<string, unknown> = { keep: value };
      if (asKey) holder[bad] = 1;
      else holder[`k${at % 5}`] = [value, bad];
      return JSON.stringify(holder);
    });
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...writes), body, async (route, payload) => {
        const response = await send(route, realPath(route, f), payload);
        assert.equal(response.statusCode, 422, `${route.method} ${route.path} ${payload.slice(0, 100)} → ${response.statusCode} ${response.body.slice(0, 200)}`);
        assertSchema('ValidationError', json(response));
      }),
      { numRuns: RUNS, seed: SEED },
    );
    assert.equal(await storeDigest(f.t.app.store.db), digest);
  });

  for (const route of PARAM_ROUTES) {
    test(`${route.method} ${route.path} (${route.operationId}): every path parameter not text → 404`, async () => {
      for (const name of route.params) {
        // (A raw lone surrogate cannot be sent: a client encodes it as U+FFFD, which is text.)
        for (const value of ['%ED%A0%80', '%ED%BF%BF', '%FF', '%C0%AF', 'a%00']) {
          const payload = route.bodySchema ? JSON.stringify(sample(route.bodySchema)) : undefined;
          const response = await send(route, realPath(route, f, { [name]: value }), payload);
          assert.equal(response.statusCode, 404, `${route.operationId} ${name}=${value}: ${response.body}`);
          assertSchema('Error', json(response));
        }
      }
      assert.equal(await storeDigest(f.t.app.store.db), digest);
    });
  }

  for (const route of ALL_ROUTES) {
    test(`${route.method} ${route.path} (${route.operationId}): a query name or value not text → 400`, async () => {
      const names = route.query.length > 0 ? route.query : ['fields'];
      const payload = route.bodySchema ? JSON.stringify(sample(route.bodySchema)) : undefined;
      for (const query of [...names.map((n) => `${n}=%ED%A0%80`), ...names.map((n) => `${n}=%FF`), ...names.map((n) => `${n}=a%00`), '%ED%B0%80=1', '%FF=1']) {
        const response = await send(route, `${realPath(route, f)}?${query}`, payload);
        assert.equal(response.statusCode, 400, `${route.operationId} ?${query}: ${response.body}`);
        assertSchema('Error', json(response));
        assert.match(json(response).message, /^Invalid query string\./);
      }
      assert.equal(await storeDigest(f.t.app.store.db), digest);
    });
  }
});

describe('secrets in the query string, on every route', () => {
  let f: Fixture;
  before(async () => {
    f = await fixture();
  });
  after(() => f.t.close());

  test('a secret under any query name (or as the name) never reaches the log', async () => {
    const start = f.t.logs.length;
    const secrets: string[] = [];
    const secretLike = fc.string({ unit: fc.constantFrom(...'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789'), minLength: 24, maxLength: 40 });
    const name = fc.oneof(
      fc.constantFrom('api_key', 'apikey', 'password', 'passwd', 'secret', 'accessToken', 'access_token', 'client_secret', 'token', 'auth', 'sig', 'key', 'X-Amz-Signature', 'session', 'fields', 'client_id', 'name'),
      fc.string({ minLength: 1, maxLength: 12 }),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ALL_ROUTES), name, secretLike, fc.boolean(), async (route, key, secret, asName) => {
        secrets.push(secret);
        // The suite-wide audit looks for it too, in every log, data directory and response. Only as a
        // value: a 400 names an unknown parameter back to the client that sent it.
        if (!asName) auditSecret('query string secret (fuzz)', secret);
        const query = asName ? encodeURIComponent(secret) : `${encodeURIComponent(key)}=${secret}`;
        const payload = route.bodySchema ? JSON.stringify(sample(route.bodySchema)) : undefined;
        // GETs and refused requests only: a write that succeeded would change what the next case finds, not what it logs.
        const method = route.method === 'GET' ? 'GET' : route.method;
        const response = await f.t.inject({
          method,
          url: `${realPath(route, f)}?${query}`,
          headers: { ...bearer(f.t.adminToken), ...(payload ? { 'content-type': 'application/json' } : {}) },
          ...(payload ? { payload } : {}),
        });
        assert.ok(response.statusCode < 500, `${route.operationId} → ${response.statusCode}`);
        if (route.operationId === 'logout' && response.statusCode === 204) f.t.adminToken = await loginToken(f.t.app, ADMIN.client_id, ADMIN.client_secret);
      }),
      { numRuns: Math.max(RUNS, ALL_ROUTES.length * 3), seed: SEED },
    );
    const text = f.t.logs.slice(start).join('');
    assert.ok(text.includes('"msg":"request"'));
    for (const secret of secrets) assert.ok(!text.includes(secret), `a query secret reached the log: ${secret.slice(0, 6)}…`);
  });
});

describe('client resets, on every route', () => {
  let f: Fixture;
  let port: number;
  before(async () => {
    // Rate limit on: its client address code is one of the places a vanished socket used to break.
    f = await fixture({ EOA_RATE_LIMIT_MAX: '100000' });
    await f.t.app.listen({ port: 0, host: '127.0.0.1' });
    port = (f.t.app.server.address() as net.AddressInfo).port;
  });
  after(() => f.t.close());

  async function sendThenReset(text: string, waitMs: number): Promise<void> {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => {});
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write(text);
    if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
    socket.resetAndDestroy();
    await closed;
  }

  async function get(path: string): Promise<number> {
    const response = await fetch(`http://127.0.0.1:${port}${path}`);
    await response.arrayBuffer();
    return response.status;
  }

  for (const route of ALL_ROUTES) {
    test(`${route.method} ${route.path} (${route.operationId}): reset mid-headers, mid-body, after sending: no error line, still serving`, async () => {
      const start = f.t.logs.length;
      // A fresh token per route: a reset logout or credentials delete may end it.
      const token = await loginToken(f.t.app, ADMIN.client_id, ADMIN.client_secret);
      const body = JSON.stringify(route.bodySchema ? sample(route.bodySchema) : { unused: 'x'.repeat(64) });
      const head =
        `${route.method} ${realPath(route, f)} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`;
      for (const waitMs of [0, 2, 20]) {
        await sendThenReset(head.slice(0, Math.floor(head.length / 2)), waitMs);
        await sendThenReset(head + body.slice(0, Math.floor(body.length / 2)), waitMs);
        await sendThenReset(head + body, waitMs);
      }
      assert.equal(await get('/versions'), 200);
      // Whatever the server was still doing for the vanished clients has finished by the second answer.
      assert.equal(await get('/healthz'), 200);
      assert.deepEqual(errorLines(f.t.logs.slice(start)), [], route.operationId);
    });
  }
});
