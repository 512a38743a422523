// The README's API table against the OpenAPI document the service serves: every operation has its row
// (method, path and operationId), and every row names an operation that exists, so a new endpoint cannot
// be left out of the README (step 12 of "Adding an endpoint" in docs/development.md).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildTestApp, json, type TestApp } from '../helpers/app.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];

interface Row {
  line: string;
  methods: string[];
  paths: string[];
  names: string[];
}

/** The rows of the table under "## The API": methods and paths from the first cell, names from the second. */
function apiTable(readme: string): Row[] {
  const section = readme.split(/^## /m).find((part) => part.startsWith('The API'));
  assert.ok(section, 'the README has a section "The API"');
  return section
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .map((line) => {
      const [first, second] = line.split(' | ').map((cell) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]));
      const words = first.flatMap((code) => code.split(/[\s,]+/));
      return {
        line,
        methods: words.filter((word) => METHODS.includes(word)),
        // A path's query (`?name=&client_id=`) is a hint for the reader, not part of the path.
        paths: words.filter((word) => word.startsWith('/')).map((word) => word.split('?')[0]),
        names: second.filter((code) => /^[a-z][a-z0-9_]*$/.test(code)),
      };
    });
}

describe("the README's API table is the served API", () => {
  let t: TestApp;
  let operations: { method: string; path: string; operationId: string }[];
  const rows = apiTable(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8'));

  before(async () => {
    t = await buildTestApp();
    const doc = json(await t.inject({ method: 'GET', url: '/api/4.0/openapi.json' })) as {
      paths: Record<string, Record<string, { operationId: string }>>;
    };
    operations = Object.entries(doc.paths).flatMap(([opPath, methods]) =>
      Object.entries(methods).map(([method, op]) => ({ method: method.toUpperCase(), path: opPath, operationId: op.operationId })),
    );
  });
  after(() => t.close());

  test('every operation of the served document has a row with its method, path and operationId', () => {
    assert.ok(operations.length >= 20);
    const missing = operations.filter(
      ({ method, path: opPath, operationId }) =>
        !rows.some((row) => row.methods.includes(method) && row.paths.includes(opPath) && row.names.includes(operationId)),
    );
    assert.deepEqual(missing.map(({ method, path: opPath, operationId }) => `${method} ${opPath} ${operationId}`), []);
  });

  test('every operationId the table names is served', () => {
    const served = new Set(operations.map((op) => op.operationId));
    // A field a row mentions beside its operations ("send `client_secret` to rotate it").
    const fields = new Set(['client_secret']);
    const unknown = rows.flatMap((row) => row.names).filter((name) => !served.has(name) && !fields.has(name));
    assert.deepEqual(unknown, []);
  });
});
