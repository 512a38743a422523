import type { TSchema } from 'typebox';
import type { FastifyRequest } from 'fastify';
import { createValidatorCompiler, toValidationProblems } from '../http/validation.ts';
import { ApiError, type ValidationProblem } from '../errors.ts';
import { html, type Html } from './html.ts';

/**
 * Forms: reading a posted form, checking it with the same schemas the API validates its JSON bodies with,
 * and rendering fields with their errors beside them. A form field is named after the API field it fills,
 * so a 422 problem's `field` names the input it belongs to.
 */

export type FormBody = Record<string, string | string[] | undefined>;

export function formBody(request: FastifyRequest): FormBody {
  const body = request.body;
  return typeof body === 'object' && body !== null ? (body as FormBody) : {};
}

/** A single text value (the first, if the field was repeated); '' when absent. */
export function text(body: FormBody, name: string): string {
  const value = body[name];
  return (Array.isArray(value) ? value[0] : value) ?? '';
}

export function values(body: FormBody, name: string): string[] {
  const value = body[name];
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

/** An empty optional text field means "no value", as null in the API. */
export const orNull = (value: string) => (value.trim() === '' ? null : value);

const compile = createValidatorCompiler([]);
const validators = new WeakMap<TSchema, ReturnType<typeof compile>>();

/** The problems the API would report for this body, in the API's words (`field`, `code`, `message`). */
export function schemaProblems(schema: TSchema, body: unknown): ValidationProblem[] {
  let validate = validators.get(schema);
  if (!validate) {
    validate = compile({ schema, httpPart: 'body', method: 'POST', url: '/console' });
    validators.set(schema, validate);
  }
  const result = validate(body) as boolean;
  return result ? [] : toValidationProblems((validate as unknown as { errors: never }).errors, 'body');
}

export type FieldErrors = Map<string, string[]>;

export const noErrors = (): FieldErrors => new Map();

/**
 * A service's answer to a bad form as field errors: the 422's problems as they are, and a 409 (a unique
 * field taken, whose message names the field: "…with this client_id already exists") on that field.
 * Anything else is not about a field and is rethrown for the error page.
 */
export function fieldErrors(error: unknown, fields: string[]): FieldErrors {
  if (!(error instanceof ApiError)) throw error;
  if (error.code === 'validation_failed') return toFieldErrors(error.problems);
  if (error.code === 'conflict') {
    const field = fields.find((f) => error.message.includes(`this ${f} `)) ?? fields[0];
    return toFieldErrors([{ field, code: 'already_exists', message: error.message }]);
  }
  throw error;
}

export function toFieldErrors(problems: ValidationProblem[]): FieldErrors {
  const errors: FieldErrors = new Map();
  for (const p of problems) errors.set(p.field, [...(errors.get(p.field) ?? []), p.message]);
  return errors;
}

const fieldId = (name: string) => `field-${name}`;
const errorId = (name: string) => `error-${name}`;

/**
 * The list of problems at the top of a form, each linking to its field; announced when the page loads.
 * `labels` names the fields for people; a problem about no field on the form is listed under its API name.
 */
export function errorSummary(errors: FieldErrors, labels: Record<string, string>): Html | null {
  if (errors.size === 0) return null;
  const items = [...errors].flatMap(([field, messages]) =>
    messages.map((m) => (labels[field] ? html`<li><a href="#${fieldId(field)}">${labels[field]}: ${m}</a></li>` : html`<li>${field}: ${m}</li>`)),
  );
  return html`<div class="error-summary" role="alert" tabindex="-1" id="error-summary">
  <h2>${errors.size === 1 ? 'There is a problem' : `There are ${errors.size} problems`}</h2>
  <ul>${items}</ul>
</div>`;
}

function fieldError(name: string, errors: FieldErrors): Html | null {
  const messages = errors.get(name);
  return messages ? html`<p class="field-error" id="${errorId(name)}">${messages.join(' ')}</p>` : null;
}

function describedBy(name: string, errors: FieldErrors, hint: string | undefined): string | null {
  const ids = [hint ? `hint-${name}` : null, errors.has(name) ? errorId(name) : null].filter(Boolean);
  return ids.length > 0 ? ids.join(' ') : null;
}

interface TextField {
  name: string;
  label: string;
  value?: string | null;
  type?: 'text' | 'password' | 'email' | 'search';
  required?: boolean;
  hint?: string;
  autocomplete?: string;
  list?: string;
  maxlength?: number;
}

export function textField(field: TextField, errors: FieldErrors = noErrors()): Html {
  const { name, label, hint } = field;
  const described = describedBy(name, errors, hint);
  return html`<div class="field${errors.has(name) ? ' has-error' : ''}">
  <label for="${fieldId(name)}">${label}${field.required ? html` <span class="required">(required)</span>` : null}</label>
  ${hint ? html`<p class="hint" id="hint-${name}">${hint}</p>` : null}
  ${fieldError(name, errors)}
  <input id="${fieldId(name)}" name="${name}" type="${field.type ?? 'text'}" value="${field.value ?? ''}"${field.required ? html` required` : null}${
    described ? html` aria-describedby="${described}"` : null
  }${errors.has(name) ? html` aria-invalid="true"` : null}${field.autocomplete ? html` autocomplete="${field.autocomplete}"` : null}${
    field.list ? html` list="${field.list}"` : null
  }${field.maxlength ? html` maxlength="${field.maxlength}"` : null}>
</div>`;
}

export function checkboxField(field: { name: string; label: string; checked: boolean; hint?: string; value?: string }, errors: FieldErrors = noErrors()): Html {
  const { name, hint } = field;
  const described = describedBy(name, errors, hint);
  return html`<div class="field checkbox${errors.has(name) ? ' has-error' : ''}">
  ${fieldError(name, errors)}
  <input id="${fieldId(name)}" name="${name}" type="checkbox" value="${field.value ?? 'true'}"${field.checked ? html` checked` : null}${
    described ? html` aria-describedby="${described}"` : null
  }>
  <label for="${fieldId(name)}">${field.label}</label>
  ${hint ? html`<p class="hint" id="hint-${name}">${hint}</p>` : null}
</div>`;
}

/** The hidden synchronizer token every console form carries (csrf.ts). */
export function csrfField(token: string): Html {
  return html`<input type="hidden" name="_csrf" value="${token}">`;
}
