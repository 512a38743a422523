import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';
import type { ValidationProblem } from '../errors.ts';

/**
 * Request validation. Bodies are checked strictly (no type coercion: `"name": 123` is invalid, not
 * "123"); query strings and path parameters arrive as text, so those coerce ("5" → 5). Every problem is
 * collected (allErrors) so a 422 can list them all at once; bodies are capped at 1 MiB, which bounds the work.
 */
function createAjv(coerceTypes: boolean | 'array'): Ajv {
  const ajv = new Ajv({ allErrors: true, coerceTypes, useDefaults: true, removeAdditional: false, strict: false });
  addFormats.default(ajv, ['date-time', 'uri-reference', 'uri']);
  return ajv;
}

export function createValidatorCompiler(sharedSchemas: object[]): FastifySchemaCompiler<unknown> {
  // Made on the first compilation: an app whose validators all come from a CompileCache never needs them.
  let ajvs: { strict: Ajv; coercing: Ajv } | null = null;
  return ({ schema, httpPart }) => {
    if (!ajvs) {
      ajvs = { strict: createAjv(false), coercing: createAjv('array') };
      for (const shared of sharedSchemas) {
        ajvs.strict.addSchema(shared);
        ajvs.coercing.addSchema(shared);
      }
    }
    const ajv = httpPart === 'body' ? ajvs.strict : ajvs.coercing;
    return ajv.compile(schema as object) as ValidateFunction;
  };
}

/** Looker's field paths are dotted (`errors.0.field`); JSON pointers are not. */
function fieldPath(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');
}

export function toValidationProblems(errors: ErrorObject[], part: string): ValidationProblem[] {
  const problems: ValidationProblem[] = [];
  const seen = new Set<string>();
  // A nullable field's anyOf reports one type error per branch; they become one "Must be string or null."
  const typesAt = new Map<string, string[]>();
  for (const error of errors) {
    if (error.keyword === 'type') typesAt.set(error.instancePath, [...(typesAt.get(error.instancePath) ?? []), String((error.params as { type: string }).type)]);
  }
  for (const error of errors) {
    if (error.keyword === 'anyOf') continue;
    const base = fieldPath(error.instancePath);
    const problem: ValidationProblem =
      error.keyword === 'additionalProperties'
        ? {
            // Only query strings are closed (closed-query.ts): a body's unknown fields are ignored, as Looker does.
            field: [base, (error.params as { additionalProperty: string }).additionalProperty].filter(Boolean).join('.'),
            code: 'invalid',
            message: 'Is not a parameter of this operation.',
          }
        : error.keyword === 'required'
        ? {
            field: [base, (error.params as { missingProperty: string }).missingProperty].filter(Boolean).join('.'),
            code: 'missing_field',
            message: 'This field is required.',
          }
        : {
            field: base || part,
            code: 'invalid',
            message: error.keyword === 'type' ? `Must be ${typesAt.get(error.instancePath)!.join(' or ').replace(',null', ' or null')}.` : describe(error),
          };
    const key = `${problem.field}|${problem.code}`;
    if (seen.has(key)) continue;
    seen.add(key);
    problems.push(problem);
  }
  return problems;
}

function describe(error: ErrorObject): string {
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'maxLength':
      return `Must be at most ${params.limit} characters.`;
    case 'minLength':
      return `Must be at least ${params.limit} character${params.limit === 1 ? '' : 's'}.`;
    case 'format':
      return params.format === 'date-time' ? 'Must be an ISO-8601 date-time, e.g. 2026-01-31T12:00:00Z.' : `Must be a valid ${params.format}.`;
    case 'pattern':
      return 'Has an invalid format.';
    default:
      return error.message ? `${error.message.charAt(0).toUpperCase()}${error.message.slice(1)}.` : 'Is invalid.';
  }
}

/** The type the body should have had ('object', 'array') when the body itself has the wrong type; else null. */
export function wrongBodyType(errors: ErrorObject[]): string | null {
  const error = errors.find((e) => e.instancePath === '' && e.keyword === 'type');
  return error ? String((error.params as { type: string }).type) : null;
}
