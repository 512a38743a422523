import fp from 'fastify-plugin';
import type { FastifyRequest } from 'fastify';
import { ApiError, invalid, type ValidationProblem } from '../errors.ts';
import { UNDECODABLE } from './query-string.ts';

/**
 * Every string a request carries (body values and keys at any depth, path parameters, query keys and
 * values) must be text both engines store as it was sent:
 *   - no lone UTF-16 surrogate (`"\ud800"` in JSON): it has no UTF-8 form, so it would be stored as
 *     replacement bytes and the row could never be named again;
 *   - no U+0000: PostgreSQL text cannot hold it (SQLite can), so both engines refuse it alike.
 * Checked in one preValidation hook for every route, whatever schemas it declares, so routes added later
 * are covered with no code of their own. A body gets a 422 naming each field, a path parameter the 404 of
 * a name that exists nowhere, a query parameter a 400.
 */
const NOT_TEXT = /[\p{Cs}\0]/u;

function isWellFormedText(value: string): boolean {
  return !NOT_TEXT.test(value);
}

function problemWith(value: string): string {
  return value.includes('\0') ? 'Must not contain the NUL character (U+0000).' : 'Must be valid Unicode: it holds a lone UTF-16 surrogate.';
}

function lowerFirst(text: string): string {
  return `${text.charAt(0).toLowerCase()}${text.slice(1)}`;
}

/** A name fit to echo back in an error body: whatever is not text becomes U+FFFD. */
function printable(name: string): string {
  return name.replace(/[\p{Cs}\0]/gu, '\ufffd');
}

interface Frame {
  value: unknown;
  parent: Frame | null;
  key: string;
}

/**
 * The body's strings that are not text, keys included, as Looker field paths (`errors.0.field`), in
 * document order. Iterative, with each path built only for a hit: a body nested thousands deep (well
 * within the body limit) would overflow the stack of a recursive walk.
 */
function bodyTextProblems(root: unknown): ValidationProblem[] {
  const problems: ValidationProblem[] = [];
  const stack: Frame[] = [{ value: root, parent: null, key: '' }];
  while (stack.length > 0) {
    const frame = stack.pop()!;
    const { value } = frame;
    const children: Frame[] = [];
    if (frame.parent !== null && !Array.isArray(frame.parent.value) && !isWellFormedText(frame.key)) {
      problems.push({ field: fieldOf(frame), code: 'invalid', message: `The field name ${lowerFirst(problemWith(frame.key))}` });
    }
    if (typeof value === 'string') {
      if (!isWellFormedText(value)) problems.push({ field: fieldOf(frame) || 'body', code: 'invalid', message: problemWith(value) });
    } else if (Array.isArray(value)) {
      value.forEach((item, i) => children.push({ value: item, parent: frame, key: String(i) }));
    } else if (value !== null && typeof value === 'object') {
      for (const [key, item] of Object.entries(value)) children.push({ value: item, parent: frame, key });
    }
    // Reversed onto the stack, so problems are found in document order.
    for (let i = children.length - 1; i >= 0; i -= 1) stack.push(children[i]);
  }
  return problems;
}

function fieldOf(frame: Frame): string {
  const keys: string[] = [];
  for (let f: Frame | null = frame; f !== null && f.parent !== null; f = f.parent) keys.push(printable(f.key));
  return keys.reverse().join('.');
}

/** Walked without copying (no `Object.entries`, no array per value): it runs on every request. */
function queryProblems(query: unknown): string[] | null {
  if (query === null || typeof query !== 'object') return null;
  let found: string[] | null = null;
  for (const name of (query as Record<symbol, string[] | undefined>)[UNDECODABLE] ?? []) {
    (found ??= []).push(`${printable(name)}: Is not valid percent-encoded UTF-8.`);
  }
  const parameters = query as Record<string, unknown>;
  for (const name in parameters) {
    const value = parameters[name];
    if (!isWellFormedText(name)) (found ??= []).push(`${printable(name)}: The parameter name ${lowerFirst(problemWith(name))}`);
    if (typeof value === 'string') {
      if (!isWellFormedText(value)) (found ??= []).push(`${printable(name)}: ${problemWith(value)}`);
    } else if (Array.isArray(value)) {
      for (const item of value) {
        if (typeof item === 'string' && !isWellFormedText(item)) (found ??= []).push(`${printable(name)}: ${problemWith(item)}`);
      }
    }
  }
  return found;
}

function checkRequestText(request: FastifyRequest): void {
  const params = request.params as Record<string, unknown> | undefined;
  if (params && Object.values(params).some((v) => typeof v === 'string' && !isWellFormedText(v))) throw new ApiError('not_found');
  const query = queryProblems(request.query);
  if (query !== null) throw new ApiError('bad_request', `Invalid query string. ${query.join(' ')}`);
  const body = bodyTextProblems(request.body);
  if (body.length > 0) throw invalid(body);
}

export default fp(
  async (app) => {
    // preValidation: after the body is parsed, before any schema (or a route's own preValidation) sees it.
    // A callback, not an async function: one promise less on every request.
    app.addHook('preValidation', (request, _reply, done) => {
      try {
        checkRequestText(request);
      } catch (error) {
        return done(error as Error);
      }
      done();
    });
  },
  { name: 'well-formed-text' },
);
