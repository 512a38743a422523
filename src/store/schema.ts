import type { ColumnType, Generated, Kysely, Selectable, Transaction } from 'kysely';

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

interface UsersTable {
  id: Generated<Id>;
  first_name: string | null;
  last_name: string | null;
  email: string | null;
  locale: string | null;
  is_disabled: Bool;
  created_at: Time;
}

interface RolesTable {
  id: Id;
  name: string;
}

interface UserRolesTable {
  user_id: RefId;
  role_id: RefId;
}

interface CredentialsApi3Table {
  id: Generated<Id>;
  user_id: RefId;
  client_id: string;
  secret_hash: string;
  purpose: string | null;
  is_disabled: Bool;
  created_at: Time;
}

interface SessionsTable {
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

interface ExternalOauthApplicationsTable {
  id: Generated<Id>;
  name: string;
  client_id: string;
  client_secret_sealed: string;
  tenant_id: string | null;
  dialect_name: string | null;
  bi_directional_data_access: NullableBool;
  provider_url: string | null;
  authorization_endpoint: string | null;
  token_endpoint: string | null;
  revocation_endpoint: string | null;
  issuer: string | null;
  scopes: string | null;
  token_endpoint_auth_method: string | null;
  created_at: Time;
  updated_at: Time;
  /** The client secret a PATCH replaced, sealed; a fallback until it expires (migration 003). */
  previous_client_secret_sealed: ColumnType<string | null, string | null | undefined, string | null>;
  previous_client_secret_expires_at: ColumnType<string | Date | null, string | null | undefined, string | null>;
}

interface OauthApplicationUserStatesTable {
  user_id: RefId;
  oauth_application_id: RefId;
  access_token_sealed: string;
  access_token_expires_at: Time;
  refresh_token_sealed: string | null;
  refresh_token_expires_at: NullableTime;
  created_at: Time;
  updated_at: Time;
  // Refresh bookkeeping (migration 003, src/oauth/refresh.ts); defaults on insert.
  /** `active` or `needs_reauth`; `expired` is derived from the times when presented. */
  status: ColumnType<string, string | undefined, string>;
  /** Bumped by every token write: a refresh stores its result only over the version it read. */
  version: ColumnType<string | number, string | number | undefined, string | number>;
  lease_owner: ColumnType<string | null, string | null | undefined, string | null>;
  lease_expires_at: ColumnType<string | Date | null, string | null | undefined, string | null>;
  last_error: ColumnType<string | null, string | null | undefined, string | null>;
  last_refreshed_at: ColumnType<string | Date | null, string | null | undefined, string | null>;
  retry_at: ColumnType<string | Date | null, string | null | undefined, string | null>;
  token_type: ColumnType<string | null, string | null | undefined, string | null>;
  scope: ColumnType<string | null, string | null | undefined, string | null>;
}

/** An authorization a user started (`…/authorize`) and the provider has not yet sent back. */
interface OauthPendingAuthorizationsTable {
  /** SHA-256 (base64url) of the `state`; the state itself is never stored. */
  state_hash: string;
  user_id: RefId;
  oauth_application_id: RefId;
  code_verifier_sealed: string;
  redirect_uri: string;
  /** The issuer the authorization response's `iss` must name (RFC 9207), when known. */
  expected_issuer: string | null;
  return_to: string | null;
  created_at: Time;
  expires_at: Time;
}

interface AuditEventsTable {
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
  oauth_pending_authorizations: OauthPendingAuthorizationsTable;
}

export type UserRow = Selectable<UsersTable>;
export type CredentialsApi3Row = Selectable<CredentialsApi3Table>;
export type ExternalOauthApplicationRow = Selectable<ExternalOauthApplicationsTable>;
export type AuditEventRow = Selectable<AuditEventsTable>;

/** The database or a transaction on it: what every repository function runs against. */
export type Db = Kysely<Database> | Transaction<Database>;
