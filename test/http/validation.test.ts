import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Type } from 'typebox';
import { createValidatorCompiler, toValidationProblems, wrongBodyType } from '../../src/http/validation.ts';
import type { ErrorObject } from 'ajv';

const compile = createValidatorCompiler([]);
const Body = Type.Object({
  name: Type.String({ maxLength: 5 }),
  note: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  when: Type.Optional(Type.String({ format: 'date-time' })),
  nested: Type.Optional(Type.Object({ flag: Type.Boolean() })),
});

function problemsFor(schema: object, value: unknown, httpPart = 'body') {
  const validate = compile({ schema, httpPart, method: 'POST', url: '/' } as never) as ((v: unknown) => boolean) & { errors: ErrorObject[] };
  assert.equal(validate(value), false);
  return { problems: toValidationProblems(validate.errors, httpPart), errors: validate.errors };
}

test('every problem of a body is listed at once, with Looker codes and dotted field paths', () => {
  const { problems } = problemsFor(Body, { note: 5, when: 'yesterday', nested: { flag: 'yes' } });
  assert.deepEqual(problems, [
    { field: 'name', code: 'missing_field', message: 'This field is required.' },
    { field: 'note', code: 'invalid', message: 'Must be string or null.' },
    { field: 'when', code: 'invalid', message: 'Must be an ISO-8601 date-time, e.g. 2026-01-31T12:00:00Z.' },
    { field: 'nested.flag', code: 'invalid', message: 'Must be boolean.' },
  ]);
});

test('bodies are not coerced: "name": 123 is invalid, not "123"', () => {
  const { problems } = problemsFor(Body, { name: 123 });
  assert.deepEqual(problems, [{ field: 'name', code: 'invalid', message: 'Must be string.' }]);
  assert.deepEqual(problemsFor(Body, { name: 'toolong' }).problems, [{ field: 'name', code: 'invalid', message: 'Must be at most 5 characters.' }]);
});

test('query strings coerce ("5" → 5) and name the parameter', () => {
  const Query = Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 0 })) });
  const validate = compile({ schema: Query, httpPart: 'querystring', method: 'GET', url: '/' } as never) as (v: unknown) => boolean;
  const query = { limit: '5' };
  assert.equal(validate(query), true);
  assert.deepEqual(query, { limit: 5 });
  assert.deepEqual(problemsFor(Query, { limit: 'x' }, 'querystring').problems, [{ field: 'limit', code: 'invalid', message: 'Must be integer.' }]);
});

test('wrongBodyType names the type the body itself should have had', () => {
  assert.equal(wrongBodyType(problemsFor(Body, []).errors), 'object');
  assert.equal(wrongBodyType(problemsFor(Type.Array(Type.String()), {}).errors), 'array');
  assert.equal(wrongBodyType(problemsFor(Body, { name: 1 }).errors), null);
});
