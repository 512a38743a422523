import type { FastifyInstance } from 'fastify';

/**
 * The OpenAPI document a running app serves, read as the tests need it: each operation with its path and
 * query parameters and its body and 200 schemas ($refs resolved), and values its schemas accept. The route
 * table (routes.ts) joins its rows with these; test/api/route-table.test.ts holds the two to each other.
 */
export interface DocumentedOperation {
  operationId: string;
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  /** OpenAPI form: `/api/4.0/users/{user_id}`. */
  path: string;
  params: string[];
  query: string[];
  /** The JSON body schema ($refs resolved), for operations that take one. */
  body?: JsonSchema;
  /** Schemas of the 200 response, $refs resolved. */
  ok?: JsonSchema;
  /** The security the document names: none for a public operation. */
  security: unknown[];
}

export type JsonSchema = {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  $ref?: string;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  pattern?: string;
  format?: string;
  enum?: unknown[];
  minimum?: number;
  nullable?: boolean;
};

interface Document {
  paths: Record<string, Record<string, {
    operationId?: string;
    security?: unknown[];
    parameters?: Array<{ in: string; name: string }>;
    requestBody?: { content?: Record<string, { schema: JsonSchema }> };
    responses?: Record<string, { content?: Record<string, { schema: JsonSchema }> }>;
  }>>;
  components?: { schemas?: Record<string, JsonSchema> };
}

export function documentedOperations(app: FastifyInstance): DocumentedOperation[] {
  const document = app.swagger() as unknown as Document;
  const resolve = (schema: JsonSchema | undefined): JsonSchema | undefined => resolveRefs(schema, document.components?.schemas ?? {}, 0);
  const routes: DocumentedOperation[] = [];
  for (const [path, methods] of Object.entries(document.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      // An operation without an id is listed with an empty one, for the table's check to name.
      const parameters = op.parameters ?? [];
      routes.push({
        operationId: op.operationId ?? '',
        method: method.toUpperCase() as DocumentedOperation['method'],
        path,
        params: parameters.filter((p) => p.in === 'path').map((p) => p.name),
        query: parameters.filter((p) => p.in === 'query').map((p) => p.name),
        body: resolve(op.requestBody?.content?.['application/json']?.schema),
        ok: resolve(op.responses?.['200']?.content?.['application/json']?.schema),
        security: op.security ?? [],
      });
    }
  }
  return routes;
}

function resolveRefs(schema: JsonSchema | undefined, components: Record<string, JsonSchema>, depth: number): JsonSchema | undefined {
  if (schema === undefined || depth > 20) return schema;
  if (schema.$ref) return resolveRefs(components[schema.$ref.split('/').pop()!], components, depth + 1);
  const out: JsonSchema = { ...schema };
  if (schema.properties) out.properties = Object.fromEntries(Object.entries(schema.properties).map(([k, v]) => [k, resolveRefs(v, components, depth + 1)!]));
  if (schema.items) out.items = resolveRefs(schema.items, components, depth + 1);
  if (schema.anyOf) out.anyOf = schema.anyOf.map((s) => resolveRefs(s, components, depth + 1)!);
  if (schema.oneOf) out.oneOf = schema.oneOf.map((s) => resolveRefs(s, components, depth + 1)!);
  return out;
}

/**
 * A value the schema accepts, with every property it declares filled in (so every string field of a body
 * is present to be spoiled): the least string, number or list that meets its bounds, ids as `1`, times
 * in the future. Good enough for the schemas TypeBox writes; anything it cannot meet fails the test loudly.
 */
export function sample(schema: JsonSchema | undefined, ids: { id?: string } = {}): unknown {
  if (schema === undefined) return {};
  const options = schema.anyOf ?? schema.oneOf;
  if (options) return sample(options.find((o) => o.type !== 'null') ?? options[0], ids);
  if (schema.enum) return schema.enum[0];
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  switch (type) {
    case 'object':
      return Object.fromEntries(Object.entries(schema.properties ?? {}).map(([k, v]) => [k, sample(v, ids)]));
    case 'array':
      return Array.from({ length: schema.minItems ?? 1 }, () => sample(schema.items, ids));
    case 'integer':
    case 'number':
      return schema.minimum ?? 1;
    case 'boolean':
      return false;
    case 'string':
      if (schema.format === 'date-time') return '2031-01-01T00:00:00Z';
      if (schema.pattern && new RegExp(schema.pattern).test('1')) return ids.id ?? '1';
      if (schema.pattern && new RegExp(schema.pattern).test('a@b')) return 'a@b';
      if (schema.pattern && new RegExp(schema.pattern).test('en')) return 'en';
      return 'x'.repeat(Math.max(1, schema.minLength ?? 1));
    default:
      return null;
  }
}

/** Paths (as key lists) of every string in a value, keys excluded. */
export function stringPaths(value: unknown, at: string[] = []): string[][] {
  if (typeof value === 'string') return [at];
  if (Array.isArray(value)) return value.flatMap((v, i) => stringPaths(v, [...at, String(i)]));
  if (value !== null && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => stringPaths(v, [...at, k]));
  return [];
}

/** JSON text of `value` with the string at `path` replaced by raw JSON text (e.g. a `\ud800` escape). */
export function withRawAt(value: unknown, path: string[], rawJson: string): string {
  const marker = `\u0001marker${Math.random()}\u0001`;
  const copy = structuredClone(value) as Record<string, unknown>;
  if (path.length === 0) return rawJson;
  let node: Record<string, unknown> = copy;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string, unknown>;
  node[path[path.length - 1]] = marker;
  return JSON.stringify(copy).replace(JSON.stringify(marker), rawJson);
}
