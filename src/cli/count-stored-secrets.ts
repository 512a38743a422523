import { sql } from 'kysely';
import type { Store } from '../store/database.ts';
import { SEALED_COLUMNS } from '../store/sealed-columns.ts';

/**
 * How many sealed values the store holds (a `count(column)` skips the NULLs of the optional columns): the
 * total a progress line needs before walking them. One count per column, no value read.
 */
export async function countStoredSecrets(store: Store): Promise<number> {
  let total = 0;
  for (const { table, column } of SEALED_COLUMNS) {
    const { rows } = await sql<{ n: number | string }>`select count(${sql.ref(column)}) as n from ${sql.table(table)}`.execute(store.db);
    total += Number(rows[0].n);
  }
  return total;
}
