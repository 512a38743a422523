import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, ERROR_DOCS, ERROR_STATUS, badRequest, conflict, errorBody, invalid, notFound } from '../src/errors.ts';

const BASE = 'https://eoa.example.test';

test('each error code has one status and a documented page section', () => {
  const documented = new Set(ERROR_DOCS.map((d) => d.status));
  for (const status of Object.values(ERROR_STATUS)) assert.ok(documented.has(status), String(status));
});

test("Looker's fixed messages for 401 and 404", () => {
  assert.deepEqual(errorBody(new ApiError('unauthorized'), BASE), { message: 'Requires authentication.', documentation_url: `${BASE}/docs/errors#401` });
  assert.deepEqual(errorBody(notFound(), BASE), { message: 'Not found', documentation_url: `${BASE}/docs/errors#404` });
});

test('below 500 a precise message is kept; at 500 and above only the fixed one is said', () => {
  assert.equal(errorBody(conflict('name is taken'), BASE).message, 'name is taken');
  assert.equal(errorBody(badRequest('bad json'), BASE).message, 'bad json');
  assert.deepEqual(errorBody(new ApiError('internal', 'connection to 10.0.0.5 refused'), BASE), {
    message: 'An internal error occurred.',
    documentation_url: `${BASE}/docs/errors#500`,
  });
  assert.equal(errorBody(new ApiError('unavailable', 'pool exhausted'), BASE).message, 'Service Unavailable');
});

test('422 lists every problem, each linked to the docs', () => {
  const body = errorBody(
    invalid([
      { field: 'name', code: 'missing_field', message: 'This field is required.' },
      { field: 'client_id', code: 'invalid', message: 'Must be string.' },
    ]),
    BASE,
  );
  assert.deepEqual(body, {
    message: 'Validation Failed',
    errors: [
      { field: 'name', code: 'missing_field', message: 'This field is required.', documentation_url: `${BASE}/docs/errors#422` },
      { field: 'client_id', code: 'invalid', message: 'Must be string.', documentation_url: `${BASE}/docs/errors#422` },
    ],
    documentation_url: `${BASE}/docs/errors#422`,
  });
});
