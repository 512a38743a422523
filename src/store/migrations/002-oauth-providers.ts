import type { Kysely, Migration } from 'kysely';
import type { Engine } from '../database.ts';

/**
 * The OAuth broker, part 1: where an application's external system is (all optional: an application
 * without them is a Looker record as before), and the authorizations a user has started but not finished.
 */
export function oauthProvidersMigration(engine: Engine): Migration {
  const ref = engine === 'postgres' ? 'bigint' : 'integer';
  const time = engine === 'postgres' ? 'timestamptz' : 'text';
  return {
    async up(db: Kysely<any>) {
      for (const column of [
        'provider_url',
        'authorization_endpoint',
        'token_endpoint',
        'revocation_endpoint',
        'issuer',
        'scopes',
        'token_endpoint_auth_method',
      ]) {
        await db.schema.alterTable('external_oauth_applications').addColumn(column, 'text').execute();
      }

      // One row per authorization in flight. The state is kept only as its SHA-256 (the key: a stolen
      // table cannot complete anyone's flow) and the PKCE verifier only sealed; a row is consumed by a
      // DELETE … RETURNING, so two callbacks carrying one state cannot both proceed.
      await db.schema
        .createTable('oauth_pending_authorizations')
        .addColumn('state_hash', 'text', (c) => c.primaryKey())
        .addColumn('user_id', ref, (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('oauth_application_id', ref, (c) => c.notNull().references('external_oauth_applications.id').onDelete('cascade'))
        .addColumn('code_verifier_sealed', 'text', (c) => c.notNull())
        .addColumn('redirect_uri', 'text', (c) => c.notNull())
        .addColumn('expected_issuer', 'text')
        .addColumn('return_to', 'text')
        .addColumn('created_at', time, (c) => c.notNull())
        .addColumn('expires_at', time, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('oauth_pending_authorizations_expires_at_idx').on('oauth_pending_authorizations').column('expires_at').execute();
      // The foreign keys cascade on delete; indexes keep those cascades from scanning the table.
      await db.schema.createIndex('oauth_pending_authorizations_user_id_idx').on('oauth_pending_authorizations').column('user_id').execute();
      await db.schema
        .createIndex('oauth_pending_authorizations_app_idx')
        .on('oauth_pending_authorizations')
        .column('oauth_application_id')
        .execute();
    },
  };
}
