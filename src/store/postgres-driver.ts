import type pg from 'pg';
import {
  AbortedTransactionError,
  type CompiledQuery,
  PostgresDialect,
  type DatabaseConnection,
  type Driver,
  type QueryResult,
  type TransactionSettings,
} from 'kysely';
import { StoreUnreachableError } from './availability.ts';
import { preparedStatementName } from './prepared-query.ts';
import { runNamedQuery } from './postgres-named-query.ts';

/**
 * Kysely's PostgreSQL dialect with a driver that survives lost connections (a failover, a restart, an
 * idle connection cut by a proxy, pg_terminate_backend). Kysely's own driver hands such errors straight
 * up; this one discards the dead connection and, where running the statement again cannot do anything
 * twice, runs it again on another connection from the pool:
 *   - a SELECT outside a transaction (a read; the request that sent it never notices),
 *   - the BEGIN of a transaction (nothing of the transaction has happened yet),
 *   - any statement outside a transaction that pg refused before sending it ("not queryable").
 * A write whose connection dies mid-flight is not retried, since it may have committed: that request
 * fails with a 500 and the client decides. The same goes for any statement inside a transaction.
 */
export class ResilientPostgresDialect extends PostgresDialect {
  readonly #pool: pg.Pool;
  readonly #poolMax: number;

  constructor(pool: pg.Pool, poolMax: number) {
    super({ pool });
    this.#pool = pool;
    this.#poolMax = poolMax;
  }

  override createDriver(): Driver {
    return new ResilientPostgresDriver(this.#pool, this.#poolMax);
  }
}

class ResilientPostgresDriver implements Driver {
  constructor(
    private readonly pool: pg.Pool,
    private readonly maxRetries: number,
  ) {}

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      // No connection at all (server down, refusing, or not accepting connections): an outage, a 503.
      throw new StoreUnreachableError(error);
    }
    return new ResilientConnection(this.pool, this.maxRetries, client);
  }

  async beginTransaction(connection: ResilientConnection, settings: TransactionSettings): Promise<void> {
    const modes = [
      settings.isolationLevel ? `isolation level ${settings.isolationLevel}` : '',
      settings.accessMode ?? '',
    ].filter(Boolean);
    await connection.begin(modes.length > 0 ? `start transaction ${modes.join(' ')}` : 'begin');
  }

  async commitTransaction(connection: ResilientConnection): Promise<void> {
    // PostgreSQL answers COMMIT with ROLLBACK when an earlier statement left the transaction aborted.
    if ((await connection.finish('commit')) === 'ROLLBACK') throw new AbortedTransactionError();
  }

  async rollbackTransaction(connection: ResilientConnection): Promise<void> {
    await connection.finish('rollback');
  }

  async releaseConnection(connection: ResilientConnection): Promise<void> {
    connection.release();
  }

  async destroy(): Promise<void> {
    if (!this.pool.ended) await this.pool.end();
  }
}

class ResilientConnection implements DatabaseConnection {
  /** Null once the connection was lost inside a transaction: the server has rolled it back. */
  #client: pg.PoolClient | null;
  #inTransaction = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly maxRetries: number,
    client: pg.PoolClient,
  ) {
    this.#client = client;
  }

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const isRead = query.query.kind === 'SelectQueryNode';
    // PostgreSQL text cannot hold U+0000 and refuses such a parameter with an error. No stored value can
    // equal it, so a read that looks one up (the service compares text by equality only) finds nothing,
    // as on SQLite. Writes never carry one: request validation refuses it (http/validation.ts).
    const carriesNul = query.parameters.some((p) => typeof p === 'string' && p.includes('\0'));
    if (isRead && carriesNul) return { rows: [] };
    // The same holds for the key of an UPDATE or DELETE (a path's client_id, say: `DELETE …/a%00b`):
    // validated bodies carry no NUL, so such a write can only be keyed by one, and it matches no row.
    const kind = query.query.kind;
    if (carriesNul && (kind === 'UpdateQueryNode' || kind === 'DeleteQueryNode')) return { rows: [], numAffectedRows: 0n };
    const retryable = !this.#inTransaction && isRead;
    return toQueryResult<R>(await this.#run(query.sql, [...query.parameters], retryable, preparedStatementName(query.sql)));
  }

  async begin(statement: string): Promise<void> {
    await this.#run(statement, [], true);
    this.#inTransaction = true;
  }

  /** COMMIT or ROLLBACK; returns the command tag. A rollback on a lost connection has nothing to undo. */
  async finish(statement: 'commit' | 'rollback'): Promise<string> {
    this.#inTransaction = false;
    if (this.#client === null && statement === 'rollback') return 'ROLLBACK';
    return (await this.#run(statement, [], false)).command;
  }

  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('streaming queries are not supported');
  }

  release(): void {
    this.#client?.release();
    this.#client = null;
  }

  /**
   * `name`: a hot query's prepared-statement name (prepared-query.ts); each connection parses and describes
   * it once (postgres-named-query.ts).
   */
  async #run(text: string, values: unknown[], retryable: boolean, name?: string): Promise<pg.QueryResult> {
    // After a failover every pooled connection is dead, and each fails at once when used: a retry skips
    // past them, so it may take up to one attempt per pooled connection before a new one is opened.
    for (let attempt = 0; ; attempt++) {
      if (this.#client === null) throw new Error('database connection was lost in this transaction');
      try {
        return await (name === undefined ? this.#client.query(text, values) : runNamedQuery(this.#client, name, text, values));
      } catch (error) {
        if (!isConnectionLost(error)) throw error;
        // Passing the error makes the pool destroy the client instead of handing it out again.
        this.#client.release(error as Error);
        this.#client = null;
        const mayRetry = !this.#inTransaction && (retryable || wasNeverSent(error));
        if (!mayRetry || attempt >= this.maxRetries) throw error;
        this.#client = await this.pool.connect().catch((cause) => {
          throw new StoreUnreachableError(cause);
        });
      }
    }
  }
}

function toQueryResult<R>(result: pg.QueryResult): QueryResult<R> {
  const { command, rowCount, rows } = result;
  const writes = command === 'INSERT' || command === 'UPDATE' || command === 'DELETE' || command === 'MERGE';
  return { rows: (rows ?? []) as R[], numAffectedRows: writes ? BigInt(rowCount ?? 0) : undefined };
}

/** Errors that mean the connection, not the statement, failed. */
export function isConnectionLost(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code === 'string') {
    // 57P01-03: server shutting down or terminating this backend; class 08: connection exceptions.
    if (/^57P0[123]$/.test(code) || code.startsWith('08')) return true;
    if (['ECONNRESET', 'EPIPE', 'ECONNREFUSED', 'ETIMEDOUT'].includes(code)) return true;
  }
  return typeof message === 'string' && /Connection terminated|is not queryable|connection was lost in this transaction/.test(message);
}

/** pg refuses a query on a client it already knows is dead, before writing anything to the socket. */
function wasNeverSent(error: unknown): boolean {
  return /is not queryable/.test(String((error as { message?: unknown }).message));
}
