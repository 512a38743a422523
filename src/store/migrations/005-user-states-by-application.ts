import type { Kysely, Migration } from 'kysely';

/**
 * An application's user states in user order, from an index: the status list (`…/user_states`) and the
 * revocation of every state of a deleted application page through them by `user_id`. With an index on the
 * application alone, each page sorted all of the application's states first (a million for an application
 * every user connects to). The new index also serves every lookup the old one did, so the old one goes.
 */
export function userStatesByApplicationMigration(): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createIndex('oauth_application_user_states_app_user_idx')
        .on('oauth_application_user_states')
        .columns(['oauth_application_id', 'user_id'])
        .execute();
      await db.schema.dropIndex('oauth_application_user_states_app_idx').execute();
    },
  };
}
