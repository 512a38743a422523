import fs from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

/**
 * Holds response bodies against Looker's own OpenAPI excerpt (../shared/looker-api). Stricter than the
 * spec in one way: a body may not carry a property the spec's schema does not define, so nothing of ours
 * (a sealed secret, an internal column) can leak into a response unnoticed.
 */
const here = path.dirname(fileURLToPath(import.meta.url));
const SPEC_CANDIDATES = [
  path.resolve(here, '../../../shared/looker-api/looker-4.0-excerpt.oas.json'),
  path.resolve(here, '../fixtures/looker-4.0-excerpt.oas.json'),
];

type Json = Record<string, unknown>;

export const spec: Json = JSON.parse(fs.readFileSync(SPEC_CANDIDATES.find((p) => fs.existsSync(p))!, 'utf8'));

/** Properties our responses add to Looker's schemas (documented extensions). */
const EXTENSIONS: Record<string, string[]> = {
  User: ['created_at'],
  // The OAuth broker's provider settings (docs/oauth-broker.md).
  ExternalOauthApplication: [
    'provider_url',
    'authorization_endpoint',
    'token_endpoint',
    'revocation_endpoint',
    'issuer',
    'scopes',
    'token_endpoint_auth_method',
    // Zero-downtime client-secret rotation (docs/tokens.md).
    'has_previous_secret',
    'previous_secret_expires_at',
  ],
};

function closeObjects(node: unknown, name?: string): unknown {
  if (Array.isArray(node)) return node.map((n) => closeObjects(n));
  if (typeof node !== 'object' || node === null) return node;
  const out: Json = {};
  for (const [k, v] of Object.entries(node as Json)) out[k] = k === 'properties' ? mapValues(v as Json) : closeObjects(v);
  if (out.properties && out.additionalProperties === undefined) {
    for (const extra of EXTENSIONS[name ?? ''] ?? []) (out.properties as Json)[extra] = {};
    out.additionalProperties = false;
  }
  return out;
}

function mapValues(props: Json): Json {
  return Object.fromEntries(Object.entries(props).map(([k, v]) => [k, closeObjects(v)]));
}

const ajv = new Ajv({ strict: false, allErrors: true });
addFormats.default(ajv);
ajv.addFormat('int64', true);
const schemas = (spec.components as { schemas: Json }).schemas;
for (const [name, schema] of Object.entries(schemas)) {
  ajv.addSchema(closeObjects(schema, name) as object, `#/components/schemas/${name}`);
}

const cache = new Map<string, ValidateFunction>();

function validatorFor(schema: object): ValidateFunction {
  const key = JSON.stringify(schema);
  let validate = cache.get(key);
  if (!validate) {
    validate = ajv.compile(schema);
    cache.set(key, validate);
  }
  return validate;
}

/** Asserts `body` fits the named component schema of the excerpt spec. */
export function assertSchema(name: string, body: unknown) {
  const validate = validatorFor({ $ref: `#/components/schemas/${name}` });
  assert.ok(validate(body), `${name} mismatch: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body).slice(0, 500)}`);
}

function operationIn(document: Json, operationId: string): Json | null {
  for (const methods of Object.values(document.paths as Record<string, Json>)) {
    for (const op of Object.values(methods)) if ((op as Json).operationId === operationId) return op as Json;
  }
  return null;
}

/**
 * Our own additions (the audit log) are not in Looker's excerpt: they are held against the OpenAPI
 * document the service itself serves, closed the same way (no property the schema does not define).
 * buildTestApp registers it; the document is the same for every app.
 */
const ownAjv = new Ajv({ strict: false, allErrors: true });
addFormats.default(ownAjv);
let served: Json | null = null;

/** `app.swagger()` builds the document anew for each app (a fifth of a test app's start): asked once. */
export function registerServedDocument(app: { swagger(): unknown }) {
  if (served) return;
  served = app.swagger() as Json;
  for (const [name, schema] of Object.entries(((served.components as Json)?.schemas ?? {}) as Json)) {
    ownAjv.addSchema(closeObjects(schema, name) as object, `#/components/schemas/${name}`);
  }
}

/** The operation as documented: Looker's excerpt first, then (for ours) the served document. */
function findOperation(operationId: string): { op: Json; ours: boolean } {
  const looker = operationIn(spec, operationId);
  if (looker) return { op: looker, ours: false };
  const own = served ? operationIn(served, operationId) : null;
  if (own) return { op: own, ours: true };
  throw new Error(`no operation ${operationId} in the excerpt spec${served ? ' or the served document' : ' (and no served document registered)'}`);
}

/** The documented responses of an operation, Looker's or ours. */
export function documentedResponses(operationId: string): Json {
  return findOperation(operationId).op.responses as Json;
}

/**
 * Asserts a response fits what the spec documents for that operation and status. 401 is not in the spec
 * (Looker documents it nowhere); it is held against `Error`. A 204 must have no body.
 */
export function assertResponse(operationId: string, response: { statusCode: number; body: string; headers: Record<string, unknown> }) {
  const { op, ours } = findOperation(operationId);
  const status = String(response.statusCode);
  if (status === '204') {
    assert.equal(response.body, '', '204 must have no body');
    assert.equal(response.headers['content-type'], undefined, '204 must have no Content-Type');
    return;
  }
  const documented = (op.responses as Json)[status] as Json | undefined;
  let schema: object;
  if (documented) {
    schema = ((documented.content as Json)['application/json'] as Json).schema as object;
  } else if (status === '401' || status === '413' || status === '500') {
    schema = { $ref: '#/components/schemas/Error' };
  } else {
    assert.fail(`${operationId} answered ${status}, which the spec does not document`);
  }
  assert.match(String(response.headers['content-type']), /^application\/json/);
  const validate = ours ? ownAjv.compile(closeObjects(schema) as object) : validatorFor(schema);
  const body = JSON.parse(response.body);
  assert.ok(validate(body), `${operationId} ${status} mismatch: ${ajv.errorsText(validate.errors)}\n${response.body.slice(0, 500)}`);
}
