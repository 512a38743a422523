import type { Compilable, CompiledQuery, Kysely, QueryResult, Transaction } from 'kysely';
import type { Database } from './schema.ts';

/**
 * A query of fixed shape, compiled once. Kysely compiles every query from its builder anew, which costs
 * about as much as running a small indexed query on SQLite; the hot paths (the filtered list, the create)
 * compile once here and then only swap their parameters. `build` is called once, with a distinct
 * placeholder for each parameter, to learn where each one lands in the compiled SQL; a value that `build`
 * bakes in as a parameter of its own would be found there, so it is refused at first use.
 */
export function preparedQuery<P extends unknown[], R>(build: (...params: P) => Compilable<R>) {
  let template: { compiled: CompiledQuery<R>; slots: number[] } | null = null;
  return async (db: Kysely<Database> | Transaction<Database>, ...params: P): Promise<QueryResult<R>> => {
    if (template === null) {
      const placeholders = params.map((_, i) => `\u0000prepared-parameter-${i}`);
      const compiled = build(...(placeholders as P)).compile();
      const slots = compiled.parameters.map((value) => {
        const slot = placeholders.indexOf(value as string);
        if (slot === -1) throw new Error(`prepared query has a parameter it was not given: ${compiled.sql}`);
        return slot;
      });
      template = { compiled, slots };
    }
    const { compiled, slots } = template;
    return db.executeQuery<R>({ ...compiled, parameters: slots.map((slot) => params[slot]) });
  };
}
