import { sql, type Kysely, type Migration } from 'kysely';
import type { Engine } from '../database.ts';

/** Column types that differ between the engines; everything else is one definition. */
function columnTypes(engine: Engine) {
  return engine === 'postgres'
    ? { id: 'bigserial', ref: 'bigint', bool: 'boolean', time: 'timestamptz' } as const
    : { id: 'integer', ref: 'integer', bool: 'integer', time: 'text' } as const;
}

export function initialMigration(engine: Engine): Migration {
  const t = columnTypes(engine);
  const falseDefault = engine === 'postgres' ? sql`false` : sql`0`;
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('users')
        .addColumn('id', t.id, (c) => (engine === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()))
        .addColumn('first_name', 'text')
        .addColumn('last_name', 'text')
        .addColumn('email', 'text')
        .addColumn('locale', 'text')
        .addColumn('is_disabled', t.bool, (c) => c.notNull().defaultTo(falseDefault))
        .addColumn('created_at', t.time, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('users_email_key').unique().on('users').column('email').execute();

      await db.schema
        .createTable('roles')
        .addColumn('id', t.ref, (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .execute();
      await db.insertInto('roles').values([{ id: 1, name: 'Admin' }, { id: 2, name: 'User' }]).execute();

      await db.schema
        .createTable('user_roles')
        .addColumn('user_id', t.ref, (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('role_id', t.ref, (c) => c.notNull().references('roles.id').onDelete('cascade'))
        .addPrimaryKeyConstraint('user_roles_pkey', ['user_id', 'role_id'])
        .execute();

      await db.schema
        .createTable('credentials_api3')
        .addColumn('id', t.id, (c) => (engine === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()))
        .addColumn('user_id', t.ref, (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('client_id', 'text', (c) => c.notNull())
        .addColumn('secret_hash', 'text', (c) => c.notNull())
        .addColumn('purpose', 'text')
        .addColumn('is_disabled', t.bool, (c) => c.notNull().defaultTo(falseDefault))
        .addColumn('created_at', t.time, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('credentials_api3_client_id_key').unique().on('credentials_api3').column('client_id').execute();
      await db.schema.createIndex('credentials_api3_user_id_idx').on('credentials_api3').column('user_id').execute();

      await db.schema
        .createTable('sessions')
        .addColumn('token_hash', 'text', (c) => c.primaryKey())
        .addColumn('user_id', t.ref, (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('principal_user_id', t.ref, (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('credentials_api3_id', t.ref, (c) => c.notNull().references('credentials_api3.id').onDelete('cascade'))
        .addColumn('expires_at', t.time, (c) => c.notNull())
        .addColumn('created_at', t.time, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('sessions_expires_at_idx').on('sessions').column('expires_at').execute();
      await db.schema.createIndex('sessions_user_id_idx').on('sessions').column('user_id').execute();
      await db.schema.createIndex('sessions_principal_user_id_idx').on('sessions').column('principal_user_id').execute();
      await db.schema.createIndex('sessions_credentials_api3_id_idx').on('sessions').column('credentials_api3_id').execute();

      await db.schema
        .createTable('external_oauth_applications')
        .addColumn('id', t.id, (c) => (engine === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('client_id', 'text', (c) => c.notNull())
        .addColumn('client_secret_sealed', 'text', (c) => c.notNull())
        .addColumn('tenant_id', 'text')
        .addColumn('dialect_name', 'text')
        .addColumn('bi_directional_data_access', t.bool)
        .addColumn('created_at', t.time, (c) => c.notNull())
        .addColumn('updated_at', t.time, (c) => c.notNull())
        .execute();
      // Uniqueness lives here, never in check-then-insert code: concurrent creates race on these indexes.
      await db.schema
        .createIndex('external_oauth_applications_client_id_key')
        .unique()
        .on('external_oauth_applications')
        .column('client_id')
        .execute();
      await db.schema
        .createIndex('external_oauth_applications_name_key')
        .unique()
        .on('external_oauth_applications')
        .column('name')
        .execute();

      await db.schema
        .createTable('oauth_application_user_states')
        .addColumn('user_id', t.ref, (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('oauth_application_id', t.ref, (c) =>
          c.notNull().references('external_oauth_applications.id').onDelete('cascade'),
        )
        .addColumn('access_token_sealed', 'text', (c) => c.notNull())
        .addColumn('access_token_expires_at', t.time, (c) => c.notNull())
        .addColumn('refresh_token_sealed', 'text')
        .addColumn('refresh_token_expires_at', t.time)
        .addColumn('created_at', t.time, (c) => c.notNull())
        .addColumn('updated_at', t.time, (c) => c.notNull())
        .addPrimaryKeyConstraint('oauth_application_user_states_pkey', ['user_id', 'oauth_application_id'])
        .execute();
      await db.schema
        .createIndex('oauth_application_user_states_app_idx')
        .on('oauth_application_user_states')
        .column('oauth_application_id')
        .execute();
    },
  };
}
