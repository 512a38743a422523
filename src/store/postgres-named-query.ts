import { createRequire } from 'node:module';
import pg from 'pg';

/** pg's own conversion of a parameter to its wire text (dates, buffers, arrays, JSON), as client.query uses. */
const { prepareValue } = createRequire(import.meta.url)('pg/lib/utils.js') as { prepareValue: (value: unknown) => unknown };

/**
 * A run of one of the hot, named prepared statements (prepared-query.ts) with less work per call on the
 * Node side than `client.query({ name, text, values })`, which on each call
 *   - copies the config object property by property (pg's cloneQueryConfig), and
 *   - asks the server to describe the result again, and rebuilds from that description the row template
 *     and the column parsers (pg's Result.addFields), although a named statement's columns never change on
 *     the connection that prepared it (PostgreSQL refuses to run it if the table's columns change).
 * Here the query is made from its text alone (nothing to copy), and a connection describes each named
 * statement once: the description, parsers and row template are kept per connection and statement, and
 * later runs send Bind, Execute and Sync only. The rows, values and errors are pg's own, as before.
 *
 * This leans on pg.Query's internals (prepare, _result, _getRows), which is why pg is pinned to an exact
 * version in package.json; test/store/postgres-named-query.test.ts holds the behaviour to that version.
 */

/** What a connection learnt from the first description of a statement: the row shape pg parses into. */
interface Described {
  fields: unknown[];
  parsers: unknown[];
  template: object;
}

/** pg's per-connection object (client.connection) → statement name → its result's description. */
const descriptions = new WeakMap<object, Map<string, Described>>();

/** The parts of pg.Query and pg's Result used here (not in pg's type declarations). */
interface QueryInternals {
  name: string;
  values: unknown[];
  portal: string;
  binary: boolean | undefined;
  rows: number | undefined;
  callback: (error: Error | null, result?: pg.QueryResult) => void;
  _accumulateRows: boolean;
  _result: { fields: unknown[]; _parsers: unknown[]; _prebuiltEmptyResultObject: object | null };
  hasBeenParsed(connection: unknown): boolean;
  prepare(connection: unknown): void;
  handleRowDescription(message: unknown): void;
  _getRows(connection: unknown, rows: number | undefined): void;
  handleError(error: unknown, connection: unknown): void;
}

interface PgConnection {
  bind(options: object): void;
  sync(): void;
}

class NamedQuery extends pg.Query {
  #connection: object | null = null;

  constructor(name: string, text: string, values: unknown[], callback: (error: Error | null, result?: pg.QueryResult) => void) {
    // The text alone: pg copies a config object on every call, but makes a string into one of its own.
    super(text);
    const self = this as unknown as QueryInternals;
    self.name = name;
    self.values = values;
    self.callback = callback;
  }

  /** Called by pg when the query is sent on `connection`. */
  prepare(connection: PgConnection): void {
    const self = this as unknown as QueryInternals;
    this.#connection = connection;
    const known = self.hasBeenParsed(connection) ? descriptions.get(connection)?.get(self.name) : undefined;
    if (known === undefined) {
      // Parse (the first time on this connection), Bind, Describe, Execute, Sync: pg's own sequence.
      QUERY_PREPARE.call(this, connection);
      return;
    }
    // As pg's prepare, without the Describe: the result takes the shape it had the first time.
    try {
      connection.bind({ portal: self.portal, statement: self.name, values: self.values, binary: self.binary, valueMapper: prepareValue });
    } catch (error) {
      // A parameter pg cannot convert: nothing was sent. Unlike pg after a Parse, nothing is closed (the
      // statement stays prepared for the next run); Sync brings the ReadyForQuery that ends this query.
      connection.sync();
      self.handleError(error, connection);
      return;
    }
    self._result.fields = known.fields;
    self._result._parsers = known.parsers;
    self._result._prebuiltEmptyResultObject = known.template;
    self._accumulateRows = true;
    self._getRows(connection, self.rows);
  }

  /** The description the server sent after Describe: pg builds the row shape from it, kept for next time. */
  handleRowDescription(message: unknown): void {
    const self = this as unknown as QueryInternals;
    ROW_DESCRIPTION.call(this, message);
    if (this.#connection === null) return;
    let known = descriptions.get(this.#connection);
    if (known === undefined) descriptions.set(this.#connection, (known = new Map()));
    const result = self._result;
    known.set(self.name, { fields: result.fields, parsers: result._parsers, template: result._prebuiltEmptyResultObject! });
  }
}

const QUERY_PREPARE = (pg.Query.prototype as unknown as QueryInternals).prepare;
const ROW_DESCRIPTION = (pg.Query.prototype as unknown as QueryInternals).handleRowDescription;

/** Runs the named statement `name` (its SQL `text`) on `client`; resolves to pg's result, as client.query does. */
export function runNamedQuery(client: pg.ClientBase, name: string, text: string, values: unknown[]): Promise<pg.QueryResult> {
  return new Promise((resolve, reject) => {
    client.query(new NamedQuery(name, text, values, (error, result) => (error ? reject(error) : resolve(result!))));
  });
}
