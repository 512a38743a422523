import { createHash } from 'node:crypto';
import type { Compilable, CompiledQuery, Kysely, QueryResult, Transaction } from 'kysely';
import type { Statement } from 'better-sqlite3';
import type { Database } from './schema.ts';
import { sqliteTransaction } from './sqlite-statement-cache.ts';

/**
 * The SQL of every prepared query, by the name it is prepared under on PostgreSQL. pg sends a query without
 * a name as an unnamed statement, which the server parses and plans anew each time; with a name, each
 * connection parses it once and then only binds parameters (postgres-driver.ts). Only the fixed, few
 * queries made here are named: naming every query would grow each connection's statements without end.
 */
const namesBySql = new Map<string, string>();

/** The name a hot query is prepared under on each PostgreSQL connection, or undefined for any other. */
export function preparedStatementName(sqlText: string): string | undefined {
  return namesBySql.get(sqlText);
}

/** Derived from the text, so one text has one name whichever Kysely instance compiled it. */
function nameFor(sqlText: string): string {
  let name = namesBySql.get(sqlText);
  if (name === undefined) {
    name = `eoa_${createHash('sha256').update(sqlText).digest('hex').slice(0, 24)}`;
    namesBySql.set(sqlText, name);
  }
  return name;
}

/**
 * A query of fixed shape, compiled once. Kysely compiles every query from its builder anew, which costs
 * about as much as running a small indexed query on SQLite; the hot paths (the filtered list, the create)
 * compile once here and then only swap their parameters. `build` is called once, with a distinct
 * placeholder for each parameter, to learn where each one lands in the compiled SQL; a value that `build`
 * bakes in as a parameter of its own would be found there, so it is refused at first use. On PostgreSQL
 * the statement is also a named prepared statement (see `namesBySql`). Inside the SQLite group commit's
 * transaction it runs on the connection directly (sqlite-statement-cache.ts's `sqliteTransaction`), with
 * the result Kysely's SQLite driver would give.
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
      nameFor(compiled.sql);
      template = { compiled, slots };
    }
    const { compiled, slots } = template;
    const parameters = slots.map((slot) => params[slot]);
    const raw = sqliteTransaction(db);
    if (raw) return runRaw<R>(raw.prepare(compiled.sql), parameters);
    return db.executeQuery<R>({ ...compiled, parameters });
  };
}

/** As kysely's SqliteConnection.executeQuery: rows for a statement that returns them, counts for the others. */
function runRaw<R>(statement: Statement, parameters: unknown[]): QueryResult<R> {
  if (statement.reader) return { rows: statement.all(parameters) as R[] };
  const { changes, lastInsertRowid } = statement.run(parameters);
  return { numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] };
}
