import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

/**
 * Column types as both engines hand them back. SQLite stores booleans as 0/1 and times as ISO-8601 text;
 * PostgreSQL returns booleans, Dates for timestamptz and bigint ids as strings. Repositories convert
 * with the helpers in `values.ts`, so nothing above the store sees the difference.
 */
type Id = string | number;
type RefId = ColumnType<string | number, string | number, string | number>;
type Bool = ColumnType<boolean | number, boolean | number, boolean | number>;
type NullableBool = ColumnType<boolean | number | null, boolean | number | null, boolean | number | null>;
type Time = ColumnType<string | Date, string, string>;
type NullableTime = ColumnType<string | Date | null, string | null, string | null>;

export interface UsersTable {
  id: Generated<Id>;
  first_name: string | null;
  last_name: string | null;
  email: string | null;
  locale: string | null;
  is_disabled: Bool;
  created_at: Time;
}

export interface RolesTable {
  id: Id;
  name: string;
}

export interface UserRolesTable {
  user_id: RefId;
  role_id: RefId;
}

export interface CredentialsApi3Table {
  id: Generated<Id>;
  user_id: RefId;
  client_id: string;
  secret_hash: string;
  purpose: string | null;
  is_disabled: Bool;
  created_at: Time;
}

export interface SessionsTable {
  /** SHA-256 of the access token; the token itself is never stored. */
  token_hash: string;
  /** The user the token acts as. */
  user_id: RefId;
  /** The user who logged in: differs from user_id for an admin's `login/{user_id}` token. */
  principal_user_id: RefId;
  /** The API credentials used to log in: deleting them ends the session (ON DELETE CASCADE). */
  credentials_api3_id: RefId;
  expires_at: Time;
  created_at: Time;
}

export interface ExternalOauthApplicationsTable {
  id: Generated<Id>;
  name: string;
  client_id: string;
  client_secret_sealed: string;
  tenant_id: string | null;
  dialect_name: string | null;
  bi_directional_data_access: NullableBool;
  created_at: Time;
  updated_at: Time;
}

export interface OauthApplicationUserStatesTable {
  user_id: RefId;
  oauth_application_id: RefId;
  access_token_sealed: string;
  access_token_expires_at: Time;
  refresh_token_sealed: string | null;
  refresh_token_expires_at: NullableTime;
  created_at: Time;
  updated_at: Time;
}

export interface AuditEventsTable {
  id: Generated<Id>;
  occurred_at: Time;
  /** The user the request acted as (null: the service itself, e.g. at bootstrap). */
  actor_user_id: RefId | null;
  /** The user who logged in: differs from actor_user_id under a `login/{user_id}` token. */
  principal_user_id: RefId | null;
  address: string | null;
  request_id: string | null;
  action: string;
  target_type: string;
  target_id: string | null;
  outcome: string;
  /** JSON of a closed shape (services/audit.ts): field names and counts, never values. */
  detail: string | null;
}

export interface Database {
  users: UsersTable;
  roles: RolesTable;
  user_roles: UserRolesTable;
  credentials_api3: CredentialsApi3Table;
  sessions: SessionsTable;
  external_oauth_applications: ExternalOauthApplicationsTable;
  oauth_application_user_states: OauthApplicationUserStatesTable;
  audit_events: AuditEventsTable;
}

export type UserRow = Selectable<UsersTable>;
export type CredentialsApi3Row = Selectable<CredentialsApi3Table>;
export type ExternalOauthApplicationRow = Selectable<ExternalOauthApplicationsTable>;
export type NewExternalOauthApplication = Insertable<ExternalOauthApplicationsTable>;
export type OauthApplicationUserStateRow = Selectable<OauthApplicationUserStatesTable>;
export type AuditEventRow = Selectable<AuditEventsTable>;
