import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTestApp, json, type TestApp } from '../helpers/app.ts';

type Response = { description?: string; headers?: Record<string, { $ref: string }> };
type Operation = { operationId: string; security?: unknown[]; parameters?: { name: string; in: string }[]; requestBody?: { content: Record<string, { schema: { required?: string[] } }> }; responses: Record<string, Response> };

describe('the served OpenAPI document is complete', () => {
  let t: TestApp;
  let operations: { path: string; method: string; op: Operation }[];
  let doc: { servers: { url: string }[]; components: Record<string, Record<string, unknown>>; paths: Record<string, Record<string, Operation>> };
  before(async () => {
    t = await buildTestApp();
    doc = json(await t.inject({ method: 'GET', url: '/api/4.0/openapi.json' }));
    operations = Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ path, method, op })));
  });
  after(() => t.close());

  test('every operation declares its security, and it matches who may call it', async () => {
    for (const { path, method, op } of operations) {
      assert.ok(Array.isArray(op.security), `${method} ${path} declares security`);
      const isPublic = op.security!.length === 0;
      assert.deepEqual(op.security, isPublic ? [] : [{ bearer: [] }], `${method} ${path}`);
      // A public operation answers without a token; any other answers 401.
      const url = path.replace(/\{[^}]+\}/g, '1');
      const response = await t.inject({ method: method.toUpperCase() as 'GET', url });
      assert.equal(response.statusCode === 401, !isPublic, `${method} ${path} without a token: ${response.statusCode}`);
    }
    assert.deepEqual(operations.filter(({ op }) => op.security!.length === 0).map(({ op }) => op.operationId).sort(), ['external_oauth_redirect', 'login', 'versions']);
    assert.ok(doc.components.securitySchemes.bearer);
  });

  test('login documents its form body, and no credentials in the query string', () => {
    const login = doc.paths['/api/4.0/login'].post;
    assert.deepEqual(login.requestBody!.content['application/x-www-form-urlencoded'].schema.required, ['client_id', 'client_secret']);
    assert.ok(!(login.parameters ?? []).some((p) => p.in === 'query'), 'no query parameters');
  });

  test('every response has a real description and names the headers it carries', () => {
    for (const { path, method, op } of operations) {
      for (const [status, response] of Object.entries(op.responses)) {
        const where = `${method} ${path} ${status}`;
        assert.ok(response.description && response.description !== 'Default Response', `${where}: ${response.description}`);
        assert.ok(response.headers?.['x-request-id'], `${where} x-request-id`);
        if (status !== '401') assert.ok(response.headers?.['x-ratelimit-remaining'], `${where} x-ratelimit-remaining`);
        if (status === '429') assert.ok(response.headers?.['retry-after'], `${where} retry-after`);
      }
    }
    for (const name of ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset', 'retry-after', 'x-request-id']) {
      assert.match(String((doc.components.headers[name] as { description?: string }).description), /\w/, name);
    }
  });

  test('servers is the host serving the document when EOA_PUBLIC_URL is unset', () => {
    assert.deepEqual(doc.servers, [{ url: '/' }]);
  });
});

describe('the API reference at /api/4.0/docs', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp();
  });
  after(() => t.close());

  test('is served without a token, from this origin only, under a CSP its page satisfies', async () => {
    const page = await t.inject({ method: 'GET', url: '/api/4.0/docs' });
    assert.equal(page.statusCode, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    const csp = String(page.headers['content-security-policy']);
    const directives = Object.fromEntries(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name, values]));
    assert.deepEqual(directives['default-src'], ["'none'"]);
    assert.deepEqual(directives['script-src'], ["'self'"]);
    assert.deepEqual(directives['connect-src'], ["'self'"]);
    assert.deepEqual(directives['frame-ancestors'], ["'none'"]);
    assert.ok(!/https?:|\*/.test(csp), 'no other origin is allowed');

    // script-src 'self' blocks inline scripts: the page must have none, and every asset must be local and served.
    assert.ok(!/<script(?![^>]*\bsrc=)[^>]*>/i.test(page.body), 'no inline script');
    assert.ok(!/\son\w+=/i.test(page.body), 'no inline event handler');
    const assets = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    assert.ok(assets.length >= 5, `assets: ${assets.join(', ')}`);
    for (const asset of assets) {
      assert.match(asset, /^\/api\/4\.0\/docs\/static\//, `${asset} is served by this service`);
      const response = await t.inject({ method: 'GET', url: asset });
      assert.equal(response.statusCode, 200, asset);
      const type = String(response.headers['content-type']);
      if (asset.endsWith('.js')) assert.match(type, /javascript/, asset);
      if (asset.endsWith('.css')) assert.match(type, /text\/css/, asset);
    }
    // The initializer loads the document from this origin and sends it to no online validator.
    const initializer = await t.inject({ method: 'GET', url: '/api/4.0/docs/static/swagger-initializer.js' });
    assert.match(initializer.body, /validatorUrl: null/);
    assert.match(initializer.body, /resolveUrl\('\.\/json'\)/);
    const document = await t.inject({ method: 'GET', url: '/api/4.0/docs/json' });
    assert.equal(document.statusCode, 200);
    assert.deepEqual(json(document).paths, json(await t.inject({ method: 'GET', url: '/api/4.0/openapi.json' })).paths);
  });

  test('is not part of the API document', async () => {
    const doc = json(await t.inject({ method: 'GET', url: '/api/4.0/openapi.json' }));
    assert.ok(!Object.keys(doc.paths).some((p) => p.includes('/docs')));
  });
});
