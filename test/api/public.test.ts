import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTestApp, json, type TestApp } from '../helpers/app.ts';
import { assertResponse } from '../helpers/contract.ts';
import { ERROR_DOCS } from '../../src/errors.ts';

describe('unauthenticated endpoints', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp();
  });
  after(() => t.close());

  test('versions (at /versions, /api/versions and /api/4.0/versions): ApiVersion with 4.0 current', async () => {
    for (const url of ['/versions', '/api/versions', '/api/4.0/versions']) {
      const response = await t.inject({ method: 'GET', url, headers: { host: 'api.example.test:19999' } });
      assert.equal(response.statusCode, 200, url);
      assertResponse('versions', response);
      const body = json(response);
      assert.equal(body.current_version.version, '4.0');
      assert.equal(body.current_version.status, 'current');
      assert.deepEqual(body.supported_versions, [body.current_version]);
      assert.equal(body.api_server_url, 'http://api.example.test:19999');
      assert.equal(body.current_version.swagger_url, 'http://api.example.test:19999/api/4.0/swagger.json');
    }
  });

  test("versions' swagger_url serves the service's own OpenAPI document", async () => {
    const versions = json(await t.inject({ method: 'GET', url: '/versions' }));
    const response = await t.inject({ method: 'GET', url: new URL(versions.current_version.swagger_url).pathname });
    assert.equal(response.statusCode, 200);
    assert.equal(json(response).openapi, '3.0.3');
  });

  test('a Host header that is not a plain host never reaches the URLs', async () => {
    const response = await t.inject({ method: 'GET', url: '/versions', headers: { host: 'evil.test/"><script>' } });
    assert.equal(json(response).api_server_url, 'http://localhost');
  });

  test('openapi.json: OpenAPI 3 generated from the routes, every operation named and typed', async () => {
    const response = await t.inject({ method: 'GET', url: '/api/4.0/openapi.json' });
    assert.equal(response.statusCode, 200);
    const doc = json(response);
    assert.equal(doc.openapi, '3.0.3');
    const operations = Object.entries(doc.paths as Record<string, Record<string, Record<string, unknown>>>).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, op]) => ({ path, method, op })),
    );
    const ids = operations.map((o) => o.op.operationId as string);
    assert.equal(new Set(ids).size, ids.length, 'operationIds are unique');
    for (const expected of ['versions', 'login', 'login_user', 'logout', 'me', 'all_users', 'create_user', 'user', 'update_user', 'delete_user', 'all_roles', 'user_roles', 'set_user_roles']) {
      assert.ok(ids.includes(expected), expected);
    }
    for (const { path, method, op } of operations) {
      assert.ok(Array.isArray(op.tags) && op.tags.length > 0, `${method} ${path} has tags`);
      assert.ok(op.responses && Object.keys(op.responses as object).some((s) => s.startsWith('2')), `${method} ${path} documents success`);
    }
    assert.ok(doc.paths['/api/4.0/users/{user_id}'].get.parameters.some((p: { name: string; in: string }) => p.name === 'user_id' && p.in === 'path'));
    for (const schema of ['Error', 'ValidationError', 'User', 'CredentialsApi3', 'CreateCredentialsApi3', 'Role', 'AccessToken']) {
      assert.ok(doc.components.schemas[schema], schema);
    }
    const refs = new Set<string>();
    JSON.stringify(doc, (key, value) => (key === '$ref' && refs.add(value), value));
    assert.ok(refs.size > 0);
    for (const ref of refs) {
      const [, section, name] = /^#\/components\/(\w+)\/(.+)$/.exec(ref) ?? [];
      assert.ok(doc.components[section]?.[name], `${ref} resolves`);
    }
    // The secret appears in the create response only.
    assert.ok(!('client_secret' in doc.components.schemas.CredentialsApi3.properties));
    assert.ok('client_secret' in doc.components.schemas.CreateCredentialsApi3.properties);
  });

  test('openapi.json names EOA_PUBLIC_URL as its server, and its paths resolve against it', async () => {
    const configured = await buildTestApp({ EOA_PUBLIC_URL: 'https://looker-api.example.test/' });
    try {
      const doc = json(await configured.inject({ method: 'GET', url: '/api/4.0/swagger.json' }));
      assert.deepEqual(doc.servers, [{ url: 'https://looker-api.example.test' }]);
      const me = new URL(`${doc.servers[0].url}${Object.keys(doc.paths).find((p) => p.endsWith('/user'))}`);
      assert.equal(me.pathname, '/api/4.0/user');
      const versions = json(await configured.inject({ method: 'GET', url: '/versions' }));
      assert.equal(versions.current_version.swagger_url, 'https://looker-api.example.test/api/4.0/swagger.json');
      const error = json(await configured.inject({ method: 'GET', url: '/api/4.0/user' }));
      assert.equal(error.documentation_url, 'https://looker-api.example.test/docs/errors#401');
    } finally {
      await configured.close();
    }
  });

  test('docs/errors: a page with a section for every status an error body links to', async () => {
    const response = await t.inject({ method: 'GET', url: '/docs/errors' });
    assert.equal(response.statusCode, 200);
    assert.match(String(response.headers['content-type']), /^text\/html/);
    assert.match(String(response.headers['content-security-policy']), /default-src 'none'/);
    for (const { status } of ERROR_DOCS) assert.ok(response.body.includes(`<section id="${status}">`), String(status));

    const error = json(await t.inject({ method: 'GET', url: '/api/4.0/users' }));
    const link = new URL(error.documentation_url);
    assert.equal(link.pathname, '/docs/errors');
    assert.ok(response.body.includes(`id="${link.hash.slice(1)}"`));
  });

  test('healthz and readyz answer without a token', async () => {
    const health = await t.inject({ method: 'GET', url: '/healthz' });
    assert.equal(health.statusCode, 200);
    assert.deepEqual(json(health), { status: 'ok' });
    const ready = await t.inject({ method: 'GET', url: '/readyz' });
    assert.equal(ready.statusCode, 200);
    assert.deepEqual(json(ready), { status: 'ready' });
  });
});

test('readyz answers 503 when the database is gone, healthz still 200', async () => {
  const t = await buildTestApp();
  try {
    await t.app.store.db.destroy();
    const ready = await t.inject({ method: 'GET', url: '/readyz' });
    assert.equal(ready.statusCode, 503);
    assert.equal((await t.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
  } finally {
    await t.close().catch(() => {});
  }
});
