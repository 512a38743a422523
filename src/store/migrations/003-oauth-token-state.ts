import { sql, type Kysely, type Migration } from 'kysely';
import type { Engine } from '../database.ts';

/**
 * What handing out fresh tokens needs to remember (src/oauth/refresh.ts):
 * - on a user state: whether it still works (`status`), a `version` bumped by every token write so a
 *   refresh stores its result only over the state it read (compare-and-set), a refresh lease
 *   (`lease_owner`, `lease_expires_at`) so one caller across every instance talks to the provider while
 *   the others wait, the last failure as a code (`last_error`, never provider text), when a failing
 *   provider may be tried again (`retry_at`), `last_refreshed_at`, and the `token_type` and `scope` the provider gave;
 * - on an application: the client secret a PATCH replaced, kept sealed as a fallback until
 *   `previous_client_secret_expires_at` (zero-downtime rotation).
 * Columns only, all with defaults or nullable: existing rows read as `active`, version 0, no lease.
 */
export function oauthTokenStateMigration(engine: Engine): Migration {
  const time = engine === 'postgres' ? 'timestamptz' : 'text';
  const version = engine === 'postgres' ? 'bigint' : 'integer';
  return {
    async up(db: Kysely<any>) {
      const states = () => db.schema.alterTable('oauth_application_user_states');
      // SQLite adds one column per ALTER TABLE.
      await states().addColumn('status', 'text', (c) => c.notNull().defaultTo('active')).execute();
      await states().addColumn('version', version, (c) => c.notNull().defaultTo(sql`0`)).execute();
      await states().addColumn('lease_owner', 'text').execute();
      await states().addColumn('lease_expires_at', time).execute();
      await states().addColumn('last_error', 'text').execute();
      await states().addColumn('last_refreshed_at', time).execute();
      await states().addColumn('retry_at', time).execute();
      // What the provider said with the tokens, handed back with the access token (null: not said).
      await states().addColumn('token_type', 'text').execute();
      await states().addColumn('scope', 'text').execute();

      const apps = () => db.schema.alterTable('external_oauth_applications');
      await apps().addColumn('previous_client_secret_sealed', 'text').execute();
      await apps().addColumn('previous_client_secret_expires_at', time).execute();
    },
  };
}
