import type { Db } from './schema.ts';

/** A column that holds a sealed secret, and the primary key of its row. */
export type SealedCell =
  | { column: 'external_oauth_applications.client_secret'; key: { id: string } }
  | { column: 'external_oauth_applications.previous_client_secret'; key: { id: string } }
  | {
      column: 'oauth_application_user_states.access_token' | 'oauth_application_user_states.refresh_token';
      key: { user_id: string; oauth_application_id: string };
    }
  | { column: 'oauth_pending_authorizations.code_verifier'; key: { state_hash: string } };


/**
 * Compare-and-set of one sealed value: writes `next` only if the cell still holds `expected`. False when
 * a concurrent write changed (or deleted) the row since it was read; that write is kept, never overwritten.
 * Key rotation re-seals through this, so it can run while the service writes the same rows.
 */
export async function replaceSealedValue(db: Db, cell: SealedCell, expected: string, next: string): Promise<boolean> {
  const apps = () => db.updateTable('external_oauth_applications').where('id', '=', (cell.key as { id: string }).id);
  const states = () => {
    const key = cell.key as { user_id: string; oauth_application_id: string };
    return db.updateTable('oauth_application_user_states').where('user_id', '=', key.user_id).where('oauth_application_id', '=', key.oauth_application_id);
  };
  if (cell.column === 'oauth_pending_authorizations.code_verifier') {
    const result = await db
      .updateTable('oauth_pending_authorizations')
      .set({ code_verifier_sealed: next })
      .where('state_hash', '=', cell.key.state_hash)
      .where('code_verifier_sealed', '=', expected)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }
  const query =
    cell.column === 'external_oauth_applications.client_secret'
      ? apps().set({ client_secret_sealed: next }).where('client_secret_sealed', '=', expected)
      : cell.column === 'external_oauth_applications.previous_client_secret'
        ? apps().set({ previous_client_secret_sealed: next }).where('previous_client_secret_sealed', '=', expected)
        : cell.column === 'oauth_application_user_states.access_token'
          ? states().set({ access_token_sealed: next }).where('access_token_sealed', '=', expected)
          : states().set({ refresh_token_sealed: next }).where('refresh_token_sealed', '=', expected);
  const result = await query.executeTakeFirst();
  return result.numUpdatedRows > 0n;
}
