import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { ADMIN, bearer, buildTestApp, json, type TestApp } from '../helpers/app.ts';
import { assertResponse, assertSchema } from '../helpers/contract.ts';
import { API_ROUTES, describeRoute, paramsOf, pathOf, type PathParams } from '../helpers/routes.ts';

const MIB = 1024 * 1024;

/** Path parameter values a client (or an attacker) may send; none names anything, none may crash. */
const ODD_IDS = [
  'a%2Fb',
  'a%20b',
  '%E2%9C%93',
  '%F0%9F%98%80',
  '%00',
  '%E0%A4%A',
  '-1',
  '1.5',
  '1e3',
  '0x10',
  '99999999999999999999',
  "1'%20OR%20'1'='1",
  'x'.repeat(3000),
];

describe('bad input on every endpoint', () => {
  let t: TestApp;
  let admin: Record<string, string>;
  let ids: PathParams;
  before(async () => {
    t = await buildTestApp();
    // The broker's own operations are held against the document the service serves.
    admin = bearer(t.adminToken);
    const member = await t.newUser();
    const creds = json(await t.inject({ method: 'GET', url: `/api/4.0/users/${member.id}/credentials_api3`, headers: admin }));
    // A real user and credentials; an application that does not exist (its routes answer 404 past the body checks).
    ids = { user_id: member.id, credentials_api3_id: creds[0].id, client_id: 'no-such-application' };
  });
  after(() => t.close());

  const bodyRoutes = API_ROUTES.filter((r) => r.bodyType);

  function expect400(operationId: string, response: Awaited<ReturnType<TestApp['inject']>>, label: string) {
    assert.equal(response.statusCode, 400, `${label}: ${response.body}`);
    assertResponse(operationId, response);
  }

  for (const route of bodyRoutes) {
    const name = describeRoute(route);
    const headers = () => (route.access === 'public' ? {} : admin);

    test(`${name}: malformed JSON → 400`, async () => {
      for (const payload of ['{"a":', '{first_name: 1}', '[1,]', '{"__proto__": {"x": 1}}']) {
        const response = await t.inject({ method: route.method, url: pathOf(route, ids), headers: { ...headers(), 'content-type': 'application/json' }, payload });
        expect400(route.operationId, response, payload);
      }
    });

    test(`${name}: wrong content type → 400`, async () => {
      const cases: Array<[string, string]> = [
        ['text/plain', 'first_name=x'],
        ['application/xml', '<user/>'],
        ['multipart/form-data; boundary=x', '--x--'],
      ];
      // Login takes a form body (what the SDKs send); every other route speaks JSON only.
      if (!route.formBody) cases.push(['application/x-www-form-urlencoded', 'first_name=x']);
      for (const [contentType, payload] of cases) {
        const response = await t.inject({ method: route.method, url: pathOf(route, ids), headers: { ...headers(), 'content-type': contentType }, payload });
        expect400(route.operationId, response, contentType);
        assert.match(json(response).message, /Content-Type/);
      }
    });

    test(`${name}: body over 1 MiB → 413`, async () => {
      const big = route.bodyType === 'array' ? JSON.stringify(Array(MIB / 4).fill('22')) : JSON.stringify({ purpose: 'x'.repeat(MIB) });
      const response = await t.inject({ method: route.method, url: pathOf(route, ids), headers: { ...headers(), 'content-type': 'application/json' }, payload: big });
      assert.equal(response.statusCode, 413);
      assertResponse(route.operationId, response);
      assert.equal(json(response).message, 'Request body is too large');
    });

    if (route.formBody) continue;

    test(`${name}: a body of the wrong JSON type → 400`, async () => {
      const wrong = route.bodyType === 'array' ? ['{}', '"2"', '2', 'null', 'true'] : ['[]', '[{}]', '"x"', '5', 'null', 'true'];
      for (const payload of wrong) {
        const response = await t.inject({ method: route.method, url: pathOf(route, ids), headers: { ...admin, 'content-type': 'application/json' }, payload });
        expect400(route.operationId, response, payload);
        assert.equal(json(response).message, `The request body must be a JSON ${route.bodyType}.`);
      }
    });

    if (!route.bodyOptional) {
      test(`${name}: no body → 400`, async () => {
        for (const extra of [{}, { 'content-type': 'application/json' }]) {
          const response = await t.inject({ method: route.method, url: pathOf(route, ids), headers: { ...admin, ...extra } });
          expect400(route.operationId, response, JSON.stringify(extra));
          assert.match(json(response).message, /empty/);
        }
      });
    }
  }

  test('a body-less route given malformed JSON → 400', async () => {
    const bodyless = API_ROUTES.filter((r) => (r.method === 'DELETE' || r.method === 'POST') && !r.bodyType);
    assert.ok(bodyless.length >= 6);
    for (const route of bodyless) {
      const url = pathOf(route, { user_id: '424242', credentials_api3_id: '424242', client_id: 'no-such-application' });
      const response = await t.inject({ method: route.method, url, headers: { ...admin, 'content-type': 'application/json' }, payload: '{' });
      expect400(route.operationId, response, describeRoute(route));
    }
  });

  // Ids in the path: `client_id` is an application's free text, its odd values have tests of their own.
  const ID_PARAMS = ['user_id', 'credentials_api3_id'];
  for (const route of API_ROUTES.filter((r) => paramsOf(r).some((p) => ID_PARAMS.includes(p)))) {
    test(`${describeRoute(route)}: odd characters in path parameters → 404, never 500`, async () => {
      const variants: PathParams[] = ODD_IDS.flatMap((odd) => paramsOf(route).filter((p) => ID_PARAMS.includes(p)).map((p) => ({ ...ids, [p]: odd })));
      for (const variant of variants) {
        const response = await t.inject({ method: route.method, url: pathOf(route, variant), headers: admin, payload: route.body as never });
        assert.equal(response.statusCode, 404, `${pathOf(route, variant).slice(0, 120)}: ${response.body}`);
        assertResponse(route.operationId, response);
      }
    });
  }

  test('dot segments reach the router as they are sent, and name nothing', async () => {
    // inject() and fetch() resolve `..` (even `%2E%2E`) before sending; a raw client does not.
    const address = await t.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = new URL(address);
    for (const path of [`/api/4.0/users/../roles`, `/api/4.0/users/%2E%2E/roles`, `/api/4.0/users/${ids.user_id}/credentials_api3/..`]) {
      const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const request = http.request({ host: '127.0.0.1', port, path, method: 'GET', headers: admin }, (response) => {
          let body = '';
          response.on('data', (chunk) => (body += chunk));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
        });
        request.on('error', reject);
        request.end();
      });
      assert.equal(status, 404, `${path}: ${body}`);
      assertSchema('Error', JSON.parse(body));
    }
  });

  test('an unknown route or method → 404 in Looker\'s shape, with or without a token', async () => {
    const cases = [
      { method: 'GET' as const, url: '/api/4.0/nope' },
      { method: 'GET' as const, url: '/api/3.1/users' },
      { method: 'POST' as const, url: '/' },
      { method: 'GET' as const, url: '/no-such-page' },
      { method: 'PUT' as const, url: '/api/4.0/users' },
      { method: 'POST' as const, url: '/api/4.0/users/1' },
      { method: 'GET' as const, url: '/api/4.0/login' },
      { method: 'GET' as const, url: '/api/4.0/users/1/credentials_api3/1/extra' },
    ];
    for (const c of cases) {
      for (const headers of [{}, admin]) {
        const response = await t.inject({ ...c, headers });
        assert.equal(response.statusCode, 404, c.url);
        assert.match(String(response.headers['content-type']), /^application\/json/);
        assertSchema('Error', json(response));
        assert.equal(json(response).message, 'Not found');
      }
    }
  });

  test('login with a body too large, or malformed, never logs in and never 500s', async () => {
    const form = await t.inject({
      method: 'POST',
      url: '/api/4.0/login',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `client_id=${ADMIN.client_id}&client_secret=${ADMIN.client_secret}&pad=${'x'.repeat(MIB)}`,
    });
    assert.equal(form.statusCode, 413);
    const odd = await t.inject({
      method: 'POST',
      url: '/api/4.0/login',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'client_id=%E0%A4%A&client_secret[]=1&client_secret[]=2',
    });
    assert.equal(odd.statusCode, 404);
    assertResponse('login', odd);
    const array = await t.inject({ method: 'POST', url: '/api/4.0/login', payload: { client_id: [ADMIN.client_id], client_secret: ADMIN.client_secret } });
    assert.equal(array.statusCode, 404);
  });
});

describe('unexpected failures', () => {
  const MARKER = 'internal-detail-7f3a91';
  let t: TestApp;
  before(async () => {
    t = await buildTestApp({}, undefined, (app) => {
      // Test-only routes on this instance: a bug in a handler, a non-Error throw, and a failure after auth.
      app.get('/test/boom', { config: { access: 'public' } }, async () => {
        throw new Error(`database password is ${MARKER}`);
      });
      app.get('/test/throw-string', { config: { access: 'public' } }, async () => {
        throw MARKER;
      });
      app.get('/test/boom-authenticated', { config: { access: 'user' } }, async () => {
        throw Object.assign(new TypeError(`cannot read ${MARKER}`), { statusCode: 500 });
      });
    });
  });
  after(() => t.close());

  for (const [url, headers] of [
    ['/test/boom', {}],
    ['/test/throw-string', {}],
    ['/test/boom-authenticated', { authorization: '' }],
  ] as Array<[string, Record<string, string>]>) {
    test(`${url}: 500 that reveals nothing, logged with its request id`, async () => {
      if ('authorization' in headers) headers.authorization = `Bearer ${t.adminToken}`;
      const before = t.logs.length;
      const response = await t.inject({ method: 'GET', url, headers });
      assert.equal(response.statusCode, 500);
      assertSchema('Error', json(response));
      assert.deepEqual(Object.keys(json(response)).sort(), ['documentation_url', 'message']);
      assert.equal(json(response).message, 'An internal error occurred.');
      assert.ok(!response.body.includes(MARKER), 'the body says nothing internal');
      assert.ok(!JSON.stringify(response.headers).includes(MARKER), 'nor do the headers');

      const reqId = String(response.headers['x-request-id']);
      assert.ok(reqId.length > 0);
      const lines = t.logs.slice(before).map((l) => JSON.parse(l));
      const failure = lines.find((l) => l.level >= 50);
      assert.ok(failure, 'an error line');
      assert.equal(failure.reqId, reqId);
      assert.ok(JSON.stringify(failure).includes(MARKER), 'the log keeps the detail for the operator');
      const requestLine = lines.find((l) => l.msg === 'request');
      assert.equal(requestLine.reqId, reqId);
      assert.equal(requestLine.statusCode, 500);
    });
  }

  test('a request id given by the client is used when it is plain, replaced when not', async () => {
    const given = await t.inject({ method: 'GET', url: '/test/boom', headers: { 'x-request-id': 'trace-abc.123' } });
    assert.equal(given.headers['x-request-id'], 'trace-abc.123');
    assert.ok(t.logs.some((l) => l.includes('"reqId":"trace-abc.123"') && l.includes('"level":50')));
    const odd = await t.inject({ method: 'GET', url: '/test/boom', headers: { 'x-request-id': 'bad id\u0007<script>' } });
    assert.match(String(odd.headers['x-request-id']), /^[0-9a-f-]{36}$/);
  });
});
