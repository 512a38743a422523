import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';
import type { ValidationProblem } from './errors.ts';

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
  const strict = createAjv(false);
  const coercing = createAjv('array');
  for (const schema of sharedSchemas) {
    strict.addSchema(schema);
    coercing.addSchema(schema);
  }
  return ({ schema, httpPart }) => {
    const ajv = httpPart === 'body' ? strict : coercing;
    const validate = ajv.compile(schema as object) as ValidateFunction;
    return httpPart === 'body' ? refusingNul(validate) : validate;
  };
}

/**
 * PostgreSQL text cannot hold U+0000 (SQLite can), so a body string containing it is refused here, with
 * the same 422 on both engines, instead of failing in the database. Lookups by such a value find nothing
 * (store/postgres-driver.ts).
 */
function refusingNul(validate: ValidateFunction) {
  const checked = (data: unknown): boolean => {
    if (!validate(data)) {
      checked.errors = validate.errors;
      return false;
    }
    const found: string[] = [];
    collectNul(data, found);
    checked.errors = found.map(
      (instancePath): ErrorObject => ({ keyword: 'nul', instancePath, schemaPath: '', params: {}, message: 'must not contain the NUL character (U+0000)' }),
    );
    return found.length === 0;
  };
  checked.errors = null as ErrorObject[] | null | undefined;
  return checked;
}

interface NulFrame {
  value: unknown;
  parent: NulFrame | null;
  key: string;
}

/**
 * Iterative, with each pointer built only for a hit: a body nested thousands deep (well within the body
 * limit) overflowed the stack of a recursive walk and answered 500 (found by test/fuzz).
 */
function collectNul(root: unknown, found: string[]): void {
  const stack: NulFrame[] = [{ value: root, parent: null, key: '' }];
  while (stack.length > 0) {
    const frame = stack.pop()!;
    const { value } = frame;
    const children: NulFrame[] = [];
    if (typeof value === 'string') {
      if (value.includes('\0')) found.push(pointerOf(frame));
    } else if (Array.isArray(value)) {
      value.forEach((item, i) => children.push({ value: item, parent: frame, key: String(i) }));
    } else if (value !== null && typeof value === 'object') {
      for (const [key, item] of Object.entries(value)) children.push({ value: item, parent: frame, key: key.replace(/~/g, '~0').replace(/\//g, '~1') });
    }
    // Reversed onto the stack, so hits are found in document order.
    for (let i = children.length - 1; i >= 0; i -= 1) stack.push(children[i]);
  }
}

function pointerOf(frame: NulFrame): string {
  const keys: string[] = [];
  for (let f: NulFrame | null = frame; f !== null && f.parent !== null; f = f.parent) keys.push(f.key);
  return keys.reverse().map((k) => `/${k}`).join('');
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
      error.keyword === 'required'
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
