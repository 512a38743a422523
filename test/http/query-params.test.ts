import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { bearer, buildTestApp, json, type TestApp } from '../helpers/app.ts';
import { assertSchema, spec } from '../helpers/contract.ts';
import { sample } from '../helpers/served-document.ts';
import { pathOf, servedRoutes } from '../helpers/routes.ts';

type Operation = { operationId: string; parameters?: Array<{ $ref?: string; in?: string; name?: string }> };

/** Every operation of a document: method, path and what it declares. */
function operations(document: { paths: Record<string, Record<string, unknown>> }) {
  return Object.entries(document.paths).flatMap(([path, methods]) =>
    Object.entries(methods)
      .filter(([, op]) => typeof op === 'object' && op !== null && 'operationId' in (op as object))
      .map(([method, op]) => ({ path, method: method.toUpperCase(), op: op as Operation })),
  );
}

function queryNames(document: { components?: { parameters?: Record<string, { in: string; name: string }> } }, op: Operation): string[] {
  return (op.parameters ?? [])
    .map((p) => (p.$ref ? document.components!.parameters![p.$ref.split('/').pop()!] : p))
    .filter((p) => p.in === 'query')
    .map((p) => p.name!);
}

/**
 * Unknown or malformed query parameters are a 400 on every route (issue 10 #11): a misspelled filter
 * (`?clientid=`) or a bracketed one (`?client_id[]=`) used to be ignored and the whole list came back.
 * Every query parameter Looker's excerpt documents for an operation stays accepted.
 */
describe('query parameters', () => {
  let t: TestApp;
  let auth: Record<string, string>;
  before(async () => {
    t = await buildTestApp();
    auth = bearer(t.adminToken);
    const created = await t.inject({
      method: 'POST', url: '/api/4.0/external_oauth_applications', headers: auth,
      payload: { name: 'one', client_id: 'one', client_secret: 's3cret-value' },
    });
    assert.equal(created.statusCode, 200);
  });
  after(() => t.close());

  test('a malformed or misspelled filter is a 400, not the whole list', async () => {
    for (const query of ['client_id[]=x', 'clientid=x', 'client_id=x&client_id=y', 'Client_ID=x', 'name[$ne]=x', '__proto__=x']) {
      const response = await t.inject({ method: 'GET', url: `/api/4.0/external_oauth_applications?${query}`, headers: auth });
      assert.equal(response.statusCode, 400, `${query}: ${response.body}`);
      assertSchema('Error', json(response));
      assert.match(json(response).message, /^Invalid query string\./);
    }
    const filtered = await t.inject({ method: 'GET', url: '/api/4.0/external_oauth_applications?client_id=x', headers: auth });
    assert.deepEqual(json(filtered), []);
  });

  test('every route refuses a parameter it does not declare, documented or hidden', async () => {
    // The OAuth callback alone keeps its query string open (providers add parameters of their own); the
    // test after this one covers such a route, and the broker's tests its answers.
    const routes = servedRoutes(t.app).filter((r) => r.operationId !== 'external_oauth_redirect');
    assert.ok(routes.length >= 25);
    for (const route of routes) {
      const url = `${pathOf(route, Object.fromEntries(route.params.map((p) => [p, '999'])))}?no_such_parameter=1`;
      const payload = route.bodySchema ? sample(route.bodySchema) : undefined;
      const response = await t.inject({ method: route.method, url, headers: auth, ...(payload === undefined ? {} : { payload: payload as object }) });
      assert.equal(response.statusCode, 400, `${route.method} ${url}: ${response.statusCode} ${response.body}`);
      assert.match(json(response).message, /no_such_parameter: Is not a parameter of this operation\./, `${route.method} ${url}`);
    }
  });

  test('every query parameter the excerpt documents for an operation is accepted', async () => {
    const excerpt = spec as unknown as Parameters<typeof queryNames>[0] & { paths: Record<string, Record<string, unknown>> };
    const served = new Map(servedRoutes(t.app).map((r) => [r.operationId, r]));
    let checked = 0;
    for (const { path, method, op } of operations(excerpt)) {
      if (!served.has(op.operationId)) continue; // the excerpt has operations this service does not offer (create_role, all_dialect_infos)
      for (const name of queryNames(excerpt, op)) {
        const value = ['limit', 'offset', 'page', 'per_page'].includes(name) ? '1' : name === 'sorts' ? 'id' : ['direct_association_only', 'get_all_support_roles'].includes(name) ? 'true' : 'x';
        const url = `/api/4.0${path.replace(/\{[^}]+\}/g, '999')}?${name}=${value}${name === 'page' ? '&per_page=1' : ''}`;
        const body = served.get(op.operationId)!.bodySchema;
        const payload = body ? (sample(body) as object) : undefined;
        const response = await t.inject({ method: method as 'GET', url: path === '/versions' ? url.replace('/api/4.0', '') : url, headers: auth, ...(payload ? { payload } : {}) });
        assert.notEqual(response.statusCode, 400, `${method} ${url}: ${response.body}`);
        checked += 1;
      }
    }
    assert.ok(checked >= 25, `${checked} documented parameters checked`);
  });

  test("Looker's deprecated page/per_page page the users list; sorts may only ask for the order it has", async () => {
    for (const name of ['a', 'b', 'c']) await t.inject({ method: 'POST', url: '/api/4.0/users', headers: auth, payload: { first_name: name } });
    const all = json(await t.inject({ method: 'GET', url: '/api/4.0/users', headers: auth })).map((u: { id: string }) => u.id);
    const page2 = json(await t.inject({ method: 'GET', url: '/api/4.0/users?page=2&per_page=2&sorts=id', headers: auth })).map((u: { id: string }) => u.id);
    assert.deepEqual(page2, all.slice(2, 4));
    for (const query of ['sorts=first_name', 'page=2', 'page=0&per_page=2']) {
      const response = await t.inject({ method: 'GET', url: `/api/4.0/users?${query}`, headers: auth });
      assert.equal(response.statusCode, 400, query);
    }
  });
});

test('a route whose schema says additionalProperties: true keeps taking parameters it does not list (an OAuth callback)', async () => {
  const t = await buildTestApp({}, undefined, (app) => {
    app.get('/test/callback', { schema: { querystring: { type: 'object', properties: { code: { type: 'string' } }, additionalProperties: true } }, config: { access: 'public' } }, async () => ({ ok: true }));
    app.get('/test/closed', { schema: { querystring: { type: 'object', properties: { code: { type: 'string' } } } }, config: { access: 'public' } }, async () => ({ ok: true }));
  });
  try {
    assert.equal((await t.inject({ method: 'GET', url: '/test/callback?code=c&session_state=s' })).statusCode, 200);
    assert.equal((await t.inject({ method: 'GET', url: '/test/closed?code=c&session_state=s' })).statusCode, 400);
    // Text that is not text is refused there all the same.
    assert.equal((await t.inject({ method: 'GET', url: '/test/callback?code=%ED%A0%80' })).statusCode, 400);
  } finally {
    await t.close();
  }
});
