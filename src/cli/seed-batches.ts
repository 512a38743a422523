import type { Transaction } from 'kysely';
import type { Store } from '../store/database.ts';
import type { Database } from '../store/schema.ts';
import { nowIso } from '../store/values.ts';

/** Rows per INSERT: 2,000 rows of up to 16 bound columns stay under SQLite's 32,766 and PostgreSQL's 65,535 parameters. */
const ROWS_PER_INSERT = 2000;
/** Rows per transaction: few enough fsyncs to be fast, small enough that the write lock is held briefly. */
const ROWS_PER_TRANSACTION = 20_000;

/**
 * Generated rows 0 … total − 1, inserted in slices: `insert` writes rows `from` to `from + count − 1` in
 * one statement (count ≤ 2,000), ten slices to a transaction, and progress is reported after each commit.
 */
export async function insertInBatches(
  store: Store,
  total: number,
  insert: (tx: Transaction<Database>, from: number, count: number, now: string) => Promise<void>,
  onProgress?: (done: number, elapsedMs: number) => void,
): Promise<void> {
  const started = Date.now();
  for (let done = 0; done < total; ) {
    const inTransaction = Math.min(ROWS_PER_TRANSACTION, total - done);
    await store.db.transaction().execute(async (tx) => {
      for (let offset = 0; offset < inTransaction; offset += ROWS_PER_INSERT) {
        await insert(tx, done + offset, Math.min(ROWS_PER_INSERT, inTransaction - offset), nowIso());
      }
    });
    done += inTransaction;
    onProgress?.(done, Date.now() - started);
  }
}
