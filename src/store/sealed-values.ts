import type { Kysely, Transaction } from 'kysely';
import type { Database } from './schema.ts';

/** A column that holds a sealed secret, and the primary key of its row. */
export type SealedCell =
  | { column: 'external_oauth_applications.client_secret'; key: { id: string } }
  | {
      column: 'oauth_application_user_states.access_token' | 'oauth_application_user_states.refresh_token';
      key: { user_id: string; oauth_application_id: string };
    };

type Db = Kysely<Database> | Transaction<Database>;

/**
 * Compare-and-set of one sealed value: writes `next` only if the cell still holds `expected`. False when
 * a concurrent write changed (or deleted) the row since it was read; that write is kept, never overwritten.
 * Key rotation re-seals through this, so it can run while the service writes the same rows.
 */
export async function replaceSealedValue(db: Db, cell: SealedCell, expected: string, next: string): Promise<boolean> {
  const result = await (cell.column === 'external_oauth_applications.client_secret'
    ? db
        .updateTable('external_oauth_applications')
        .set({ client_secret_sealed: next })
        .where('id', '=', cell.key.id)
        .where('client_secret_sealed', '=', expected)
    : cell.column === 'oauth_application_user_states.access_token'
      ? db
          .updateTable('oauth_application_user_states')
          .set({ access_token_sealed: next })
          .where('user_id', '=', cell.key.user_id)
          .where('oauth_application_id', '=', cell.key.oauth_application_id)
          .where('access_token_sealed', '=', expected)
      : db
          .updateTable('oauth_application_user_states')
          .set({ refresh_token_sealed: next })
          .where('user_id', '=', cell.key.user_id)
          .where('oauth_application_id', '=', cell.key.oauth_application_id)
          .where('refresh_token_sealed', '=', expected)
  ).executeTakeFirst();
  return result.numUpdatedRows > 0n;
}
