import { createRequire } from 'node:module';
import type { FastifySchemaCompiler, FastifyServerOptions } from 'fastify';

type SerializerFactory = NonNullable<NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>['buildSerializer']>;

/**
 * Compiled request validators and response serializers, shared by the apps one process builds. Fastify
 * compiles every route's schemas when an app starts, most of an app's start-up (about 0.6 s of CPU); a
 * test process builds hundreds of apps from the same schemas. Production builds one app and passes none.
 *
 * A compiled function depends only on its schema and on the schemas it may `$ref` (and, for a validator,
 * the part of the request: bodies do not coerce), so those are the key: an app that adds a route or a
 * shared schema of its own gets its own compilation.
 */
export class CompileCache {
  private readonly compiled = new Map<string, unknown>();
  /** Sets of referenced schemas, as JSON, by a short id: the keys stay short. */
  private readonly contexts = new Map<string, number>();

  private context(schemas: unknown): number {
    const json = JSON.stringify(schemas);
    let id = this.contexts.get(json);
    if (id === undefined) this.contexts.set(json, (id = this.contexts.size));
    return id;
  }

  private memo<T>(key: string, compile: () => T): T {
    if (this.compiled.has(key)) return this.compiled.get(key) as T;
    const fn = compile();
    this.compiled.set(key, fn);
    return fn;
  }

  /** The validator compiler `compile` (built with `sharedSchemas`), remembering what it compiled. */
  validatorCompiler(sharedSchemas: object[], compile: FastifySchemaCompiler<unknown>): FastifySchemaCompiler<unknown> {
    const context = this.context(sharedSchemas);
    return (route) => this.memo(`v${context}|${route.httpPart}|${JSON.stringify(route.schema)}`, () => compile(route));
  }

  /** fastify's own serializer factory (fast-json-stringify), remembering what it compiled. */
  serializerFactory(): SerializerFactory {
    const fastifyDefault = fastifySerializerFactory();
    return (externalSchemas, options) => {
      const compile = fastifyDefault(externalSchemas, options);
      const context = this.context([externalSchemas, options ?? null]);
      return (route) => this.memo(`s${context}|${JSON.stringify(route.schema)}`, () => compile(route));
    };
  }
}

/** The factory fastify uses when given none, resolved from fastify's own dependencies. */
function fastifySerializerFactory(): SerializerFactory {
  const fromFastify = createRequire(createRequire(import.meta.url).resolve('fastify'));
  const SerializerSelector = fromFastify('@fastify/fast-json-stringify-compiler') as () => SerializerFactory;
  return SerializerSelector();
}
