import type { Kysely, Transaction } from 'kysely';
import type { Statement } from 'better-sqlite3';
import type { Database, Db } from './schema.ts';
import type { Engine } from './database.ts';
import type { WalSync } from './wal-sync.ts';
import { dismissSqliteTransaction, enlistSqliteTransaction, sqliteConnection } from './sqlite-statement-cache.ts';
import { noopMetrics, type Metrics } from '../metrics/metrics.ts';

/**
 * Group commit. On SQLite with `synchronous=FULL` every COMMIT waits for an fsync, and the one connection
 * serialises them, so one transaction per request caps durable writes at the disk's fsync rate. Writes that
 * arrive together (in the same turn of the event loop, or while the previous batch was committing) are run
 * in one transaction instead, sharing one COMMIT and one fsync.
 *
 * Each write still has its own outcome: it runs inside its own SAVEPOINT, so a write that fails (a unique
 * violation → that request's 409) rolls back only its own statements and the rest of the batch goes on.
 * The savepoints, and the statements of the writes made with preparedQuery, run on the connection directly
 * (sqlite-statement-cache.ts's `sqliteTransaction`): the batch holds the connection, so Kysely's per-query
 * work around them (compiling, its connection mutex, a few promises each) would buy nothing.
 * Nothing is acknowledged before COMMIT returns and is on disk: every promise settles after it, and if
 * COMMIT fails, every write of the batch is rejected with that error (none of them is stored). Given the
 * store's `walSync` (wal-sync.ts), the COMMIT's fsync runs off the event loop: the next batch forms and
 * commits while it is in flight, and this batch's promises settle once it is done.
 *
 * On PostgreSQL writes pass straight through, one transaction each: the pool runs them in parallel on
 * several connections and PostgreSQL already shares WAL flushes between concurrent commits, whereas
 * batching would serialise them on one connection. A write of one statement (`runStatement`) runs there
 * without BEGIN and COMMIT: PostgreSQL commits a statement sent outside a transaction on its own, as
 * atomically and durably (the WAL flush before it answers) as an explicit COMMIT would, in one round
 * trip instead of three.
 */
export interface WriteBatcher {
  /** Runs `work` in a transaction (shared with other writes on SQLite); settles only after COMMIT. */
  run<T>(work: (tx: Transaction<Database>) => Promise<T>): Promise<T>;
  /**
   * Runs `work`, which must send exactly one statement, durably: on SQLite as `run` does (group commit);
   * on PostgreSQL as that statement alone, committed by the server when it completes. Settles only once
   * it is committed. Work of two statements belongs in `run`: here each would commit on its own.
   *
   * One thing `run` does that this does not: a transaction's BEGIN, sent on a pooled connection the server
   * has just closed, is run again on another (postgres-driver.ts), whereas this statement may have run and
   * is not. In the instant after a failover it fails (a 500) rather than succeeding. So it is for hot
   * writes whose failure costs only a retry by the client (the token read's audit event, after which no
   * token leaves), not for a write whose loss costs more (the refresher's store of a rotated refresh token).
   */
  runStatement<T>(work: (db: Db) => Promise<T>): Promise<T>;
  /** Counters for tests and diagnostics. */
  readonly stats: { batches: number; writes: number; largestBatch: number };
}

interface Pending {
  work: (tx: Transaction<Database>) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/** A cap on one batch keeps the latency of its first write bounded under a flood. */
const DEFAULT_MAX_BATCH = 256;

export function createWriteBatcher(
  db: Kysely<Database>,
  engine: Engine,
  options: {
    maxBatch?: number;
    metrics?: Pick<Metrics, 'writeBatch'>;
    walSync?: WalSync;
  } = {},
): WriteBatcher {
  const stats = { batches: 0, writes: 0, largestBatch: 0 };
  const measured = measure(options.metrics ?? noopMetrics);
  if (engine === 'postgres') {
    const counted = () => {
      stats.batches += 1;
      stats.writes += 1;
      stats.largestBatch = Math.max(stats.largestBatch, 1);
    };
    return {
      stats,
      run(work) {
        counted();
        return measured(1, () => db.transaction().execute(work));
      },
      runStatement(work) {
        counted();
        return measured(1, () => work(db));
      },
    };
  }

  const statements = sqliteConnection(db) ?? noWriteConnection();
  const savepoints = prepareSavepoints(statements);
  const maxBatch = options.maxBatch ?? DEFAULT_MAX_BATCH;
  const queue: Pending[] = [];
  let scheduled = false;
  let committing = false;

  function schedule() {
    if (scheduled || committing || queue.length === 0) return;
    scheduled = true;
    // setImmediate, not a microtask: it runs after the poll phase has read every request that is ready,
    // so the writes of all of them join this batch.
    setImmediate(() => void flush());
  }

  async function flush() {
    scheduled = false;
    committing = true;
    const batch = queue.splice(0, maxBatch);
    stats.batches += 1;
    stats.writes += batch.length;
    stats.largestBatch = Math.max(stats.largestBatch, batch.length);
    const outcomes: Outcome[] = [];
    const run = async (tx: Transaction<Database>) => {
      enlistSqliteTransaction(tx, statements);
      try {
        for (const pending of batch) outcomes.push(await runIsolated(tx, pending.work, savepoints));
      } finally {
        dismissSqliteTransaction(tx);
      }
    };
    const walSync = options.walSync;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      committing = false;
      schedule();
    };
    try {
      await measured(batch.length, async () => {
        const durable = await (walSync ? relaxedCommit(db, walSync, run) : inTransaction(db, run).then(() => null));
        // The connection is free: the next batch may commit while this one's fsync is in flight.
        release();
        await durable;
      });
    } catch (error) {
      // BEGIN, COMMIT or its fsync failed (or SQLite ended the transaction itself): the whole batch fails.
      for (const pending of batch) pending.reject(error);
      return;
    } finally {
      release();
    }
    batch.forEach((pending, i) => {
      const outcome = outcomes[i];
      if (outcome.ok) pending.resolve(outcome.value);
      else pending.reject(outcome.error);
    });
  }

  function run<T>(work: (tx: Transaction<Database>) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
      schedule();
    });
  }

  return { stats, run, runStatement: run };
}

function noWriteConnection(): never {
  throw new Error('the SQLite group commit needs a store opened by openStore (its write connection)');
}

/** Runs one transaction of `size` writes and reports its size, duration and whether it committed. */
function measure(metrics: Pick<Metrics, 'writeBatch'>) {
  return async <T>(size: number, transaction: () => Promise<T>): Promise<T> => {
    const started = process.hrtime.bigint();
    const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
    try {
      const result = await transaction();
      metrics.writeBatch(size, seconds(), 'committed');
      return result;
    } catch (error) {
      metrics.writeBatch(size, seconds(), 'failed');
      throw error;
    }
  };
}

/**
 * One transaction whose failure is reported as its cause. On some errors (a full disk, an I/O error)
 * SQLite rolls the transaction back itself; the ROLLBACK that follows then fails with "cannot rollback -
 * no transaction is active", and Kysely's own transaction() would report that instead of SQLITE_FULL.
 */
async function inTransaction(db: Kysely<Database>, work: (tx: Transaction<Database>) => Promise<void>): Promise<void> {
  const tx = await db.startTransaction().execute();
  try {
    await work(tx);
    await tx.commit().execute();
  } catch (error) {
    // Releases the connection whatever happens; a failed ROLLBACK only means nothing was left to undo.
    await tx.rollback().execute().catch(() => {});
    throw error;
  }
}

/**
 * The batch's transaction on a connection held from before BEGIN until after COMMIT, committed without
 * the fsync (walSync.relax) and the level restored before the connection is let go. Resolves after COMMIT
 * to the promise of its fsync.
 */
async function relaxedCommit(db: Kysely<Database>, walSync: WalSync, work: (tx: Transaction<Database>) => Promise<void>): Promise<Promise<void>> {
  return db.connection().execute(async (connection) => {
    const relaxed = walSync.relax();
    try {
      await inTransaction(connection, work);
    } finally {
      walSync.restore();
    }
    if (!relaxed) return Promise.resolve();
    // Settled by the caller, after the connection is released; never left unhandled meanwhile.
    const durable = walSync.committed();
    durable.catch(() => {});
    return durable;
  });
}

/** The per-write savepoint's statements, prepared once on the write connection. */
interface Savepoints {
  set: Statement;
  release: Statement;
  rollback: Statement;
}

function prepareSavepoints(statements: { prepare(sql: string): Statement }): Savepoints {
  return {
    set: statements.prepare('savepoint batch_write'),
    release: statements.prepare('release savepoint batch_write'),
    rollback: statements.prepare('rollback to savepoint batch_write'),
  };
}

/** One write inside its own savepoint: a failure undoes only its statements, and is its own answer. */
async function runIsolated(tx: Transaction<Database>, work: Pending['work'], savepoints: Savepoints): Promise<Outcome> {
  savepoints.set.run();
  try {
    const value = await work(tx);
    savepoints.release.run();
    return { ok: true, value };
  } catch (error) {
    try {
      savepoints.rollback.run();
      savepoints.release.run();
    } catch {
      // The savepoint is gone with the whole transaction (SQLite ended it on a full disk): the batch fails,
      // and with this write's error, the cause, not with the complaint about the missing savepoint.
      throw error;
    }
    return { ok: false, error };
  }
}
