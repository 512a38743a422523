import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTestApp, type TestApp } from '../helpers/app.ts';
import { documentedOperations } from '../helpers/served-document.ts';
import { API_ROUTES, CONSOLE_ROUTES, describeRoute, openApiPath, registeredRoutes, servedRoutes } from '../helpers/routes.ts';

/**
 * The route table (test/helpers/routes.ts) is the list every generated suite walks, so it must be the
 * service's list: a route added without a row fails here, and so does a row whose route is gone.
 */
describe('the route table', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp();
  });
  after(() => t.close());

  test('has one row for every route fastify serves, and no row for a route it does not', () => {
    const rows = [...API_ROUTES, ...CONSOLE_ROUTES].map(describeRoute);
    const duplicates = rows.filter((row, i) => rows.indexOf(row) !== i);
    assert.deepEqual(duplicates, [], 'each route once');
    const registered = registeredRoutes(t.app);
    assert.ok(registered.length >= 60, `routes found in fastify's tree: ${registered.length}`);
    assert.deepEqual(registered.filter((route) => !rows.includes(route)), [], 'served, but not in the table');
    assert.deepEqual(rows.filter((row) => !registered.includes(row)).sort(), [], 'in the table, but not served');
  });

  test('its documented rows are exactly the operations of the served OpenAPI document, under the same ids', () => {
    const document = documentedOperations(t.app).map((op) => `${op.method} ${op.path} ${op.operationId}`).sort();
    const table = API_ROUTES.filter((r) => !r.hidden).map((r) => `${r.method} ${openApiPath(r)} ${r.operationId}`).sort();
    assert.ok(document.length >= 30, `operations in the document: ${document.length}`);
    assert.deepEqual(table, document);
    // And every hidden row is hidden indeed; console pages are no API operations either.
    const paths = new Set(documentedOperations(t.app).map((op) => op.path));
    assert.deepEqual(API_ROUTES.filter((r) => r.hidden && paths.has(openApiPath(r))).map(describeRoute), []);
    assert.deepEqual(CONSOLE_ROUTES.filter((r) => paths.has(openApiPath(r))).map(describeRoute), []);
    assert.equal(servedRoutes(t.app).length, API_ROUTES.length, 'every row joins its operation');
  });

  test("each documented row's access agrees with the security the document declares for it", () => {
    const security = new Map(documentedOperations(t.app).map((op) => [`${op.method} ${op.path}`, op.security]));
    for (const row of API_ROUTES.filter((r) => !r.hidden)) {
      const declared = security.get(`${row.method} ${openApiPath(row)}`);
      assert.deepEqual(declared, row.access === 'public' ? [] : [{ bearer: [] }], `${describeRoute(row)} is ${row.access}`);
    }
  });
});
