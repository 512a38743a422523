import type { Insertable, Kysely } from 'kysely';
import type { Database, Db, ExternalOauthApplicationRow } from './schema.ts';
import { preparedQuery } from './prepared-query.ts';
import { sqliteConnection, sqliteReader } from './sqlite-statement-cache.ts';
import { fromNullableBool, idString, isId, nowIso, toIso, toNullableBool, toNullableIso } from './values.ts';

/** Where the application's external system is (the OAuth broker's settings); every one optional. */
export const PROVIDER_COLUMNS = ['provider_url', 'authorization_endpoint', 'token_endpoint', 'revocation_endpoint', 'issuer', 'scopes', 'token_endpoint_auth_method'] as const;

export type ProviderColumns = Record<(typeof PROVIDER_COLUMNS)[number], string | null>;

/** The columns an insert sets; the prepared insert takes their values as its parameters, in this order. */
const INSERT_COLUMNS = [
  'name',
  'client_id',
  'client_secret_sealed',
  'tenant_id',
  'dialect_name',
  'bi_directional_data_access',
  ...PROVIDER_COLUMNS,
  'created_at',
  'updated_at',
] as const;

/** What an insert takes; provider settings left out are null. */
interface ExternalOauthApplicationFields extends Partial<ProviderColumns> {
  name: string;
  client_id: string;
  client_secret_sealed: string;
  tenant_id: string | null;
  dialect_name: string | null;
  bi_directional_data_access: boolean | null;
}

/** An application as stored; `client_secret_sealed` never leaves the service layer. */
export interface ExternalOauthApplicationRecord extends Omit<ExternalOauthApplicationFields, keyof ProviderColumns>, ProviderColumns {
  id: string;
  created_at: string;
  /** The secret a PATCH replaced, kept as a fallback until its overlap ends (services/client-secret-rotation.ts). */
  previous_client_secret_sealed: string | null;
  previous_client_secret_expires_at: string | null;
}

export type ExternalOauthApplicationChanges = Partial<Omit<ExternalOauthApplicationFields, 'client_id'>> &
  Partial<Pick<ExternalOauthApplicationRecord, 'previous_client_secret_sealed' | 'previous_client_secret_expires_at'>>;


function toRecord(row: ExternalOauthApplicationRow): ExternalOauthApplicationRecord {
  return {
    id: idString(row.id),
    name: row.name,
    client_id: row.client_id,
    client_secret_sealed: row.client_secret_sealed,
    tenant_id: row.tenant_id,
    dialect_name: row.dialect_name,
    bi_directional_data_access: toNullableBool(row.bi_directional_data_access),
    provider_url: row.provider_url,
    authorization_endpoint: row.authorization_endpoint,
    token_endpoint: row.token_endpoint,
    revocation_endpoint: row.revocation_endpoint,
    issuer: row.issuer,
    scopes: row.scopes,
    token_endpoint_auth_method: row.token_endpoint_auth_method,
    created_at: toIso(row.created_at),
    previous_client_secret_sealed: row.previous_client_secret_sealed,
    previous_client_secret_expires_at: toNullableIso(row.previous_client_secret_expires_at),
  };
}

export function externalOauthApplicationsRepository(db: Kysely<Database>) {
  const values = (...params: unknown[]) =>
    db
      .insertInto('external_oauth_applications')
      .values(Object.fromEntries(INSERT_COLUMNS.map((column, i) => [column, params[i]])) as Insertable<Database['external_oauth_applications']>);
  // The hottest statements, compiled once (prepared-query.ts). On SQLite the insert has no RETURNING:
  // SQLite gathers returned rows in a temporary table on every run, which cost twice the insert itself
  // (38 µs against 12 here); the new row is the values inserted and the rowid the insert reports.
  const sqlite = sqliteConnection(db) !== null;
  const insertReturning = preparedQuery((...params: unknown[]) => values(...params).returningAll());
  const insertOnly = preparedQuery(values);
  const byClientId = preparedQuery((clientId: string) =>
    db.selectFrom('external_oauth_applications').selectAll().where('client_id', '=', clientId).orderBy('id'),
  );
  // On SQLite, the filtered list outside a transaction is one raw statement (sqlite-statement-cache.ts).
  const reader = sqliteReader(db);
  const BY_CLIENT_ID = 'select * from "external_oauth_applications" where "client_id" = ? order by "id"';

  return {
    /** Throws the engine's unique violation when client_id or name is taken (see unique-violation.ts). */
    async insert(fields: ExternalOauthApplicationFields, tx: Db = db): Promise<ExternalOauthApplicationRecord> {
      const now = nowIso();
      const row = {
        name: fields.name,
        client_id: fields.client_id,
        client_secret_sealed: fields.client_secret_sealed,
        tenant_id: fields.tenant_id,
        dialect_name: fields.dialect_name,
        bi_directional_data_access: fromNullableBool(fields.bi_directional_data_access),
        provider_url: fields.provider_url ?? null,
        authorization_endpoint: fields.authorization_endpoint ?? null,
        token_endpoint: fields.token_endpoint ?? null,
        revocation_endpoint: fields.revocation_endpoint ?? null,
        issuer: fields.issuer ?? null,
        scopes: fields.scopes ?? null,
        token_endpoint_auth_method: fields.token_endpoint_auth_method ?? null,
        created_at: now,
        updated_at: now,
        previous_client_secret_sealed: null,
        previous_client_secret_expires_at: null,
      };
      const params = INSERT_COLUMNS.map((column) => row[column]);
      if (!sqlite) return toRecord((await insertReturning(tx, ...params)).rows[0]);
      const { insertId } = await insertOnly(tx, ...params);
      return toRecord({ ...row, id: String(insertId) });
    },

    /** `after_id` pages by key (rows with a greater id), for walking the whole table in bounded steps. */
    async list(
      filter: { name?: string; client_id?: string; after_id?: string; limit?: number; offset?: number } = {},
      tx: Db = db,
    ): Promise<ExternalOauthApplicationRecord[]> {
      const { client_id, ...rest } = filter;
      if (client_id !== undefined && Object.values(rest).every((v) => v === undefined)) {
        if (reader && tx === db) return reader.all<ExternalOauthApplicationRow>(BY_CLIENT_ID, client_id).map(toRecord);
        return (await byClientId(tx, client_id)).rows.map(toRecord);
      }
      let query = tx.selectFrom('external_oauth_applications').selectAll().orderBy('id');
      if (filter.after_id !== undefined) query = query.where('id', '>', filter.after_id);
      if (filter.name !== undefined) query = query.where('name', '=', filter.name);
      if (filter.client_id !== undefined) query = query.where('client_id', '=', filter.client_id);
      // SQLite has no OFFSET without LIMIT, so an offset alone comes with an unbounded limit.
      if (filter.limit !== undefined || filter.offset !== undefined) {
        query = query.limit(filter.limit ?? Number.MAX_SAFE_INTEGER).offset(filter.offset ?? 0);
      }
      return (await query.execute()).map(toRecord);
    },

    async findByClientId(clientId: string, tx: Db = db): Promise<ExternalOauthApplicationRecord | null> {
      const row = await tx.selectFrom('external_oauth_applications').selectAll().where('client_id', '=', clientId).executeTakeFirst();
      return row ? toRecord(row) : null;
    },

    async findById(id: string, tx: Db = db): Promise<ExternalOauthApplicationRecord | null> {
      if (!isId(id)) return null;
      const row = await tx.selectFrom('external_oauth_applications').selectAll().where('id', '=', id).executeTakeFirst();
      return row ? toRecord(row) : null;
    },

    /** Null when no application has that client_id. */
    async update(
      clientId: string,
      changes: ExternalOauthApplicationChanges,
      tx: Db = db,
    ): Promise<ExternalOauthApplicationRecord | null> {
      const { bi_directional_data_access, ...rest } = changes;
      const row = await tx
        .updateTable('external_oauth_applications')
        .set({
          ...rest,
          ...(bi_directional_data_access === undefined
            ? {}
            : { bi_directional_data_access: fromNullableBool(bi_directional_data_access) }),
          updated_at: nowIso(),
        })
        .where('client_id', '=', clientId)
        .returningAll()
        .executeTakeFirst();
      return row ? toRecord(row) : null;
    },

    /** Removes the application and, by cascade in the same statement, its user states. */
    async delete(clientId: string, tx: Db = db): Promise<boolean> {
      const result = await tx.deleteFrom('external_oauth_applications').where('client_id', '=', clientId).executeTakeFirst();
      return result.numDeletedRows > 0n;
    },

    /** Every sealed secret, in id order from `afterId`, for `doctor` and key rotation. */
    async sealedSecrets(afterId: string, limit: number, tx: Db = db) {
      const rows = await tx
        .selectFrom('external_oauth_applications')
        .select(['id', 'client_id', 'client_secret_sealed', 'previous_client_secret_sealed'])
        .where('id', '>', afterId)
        .orderBy('id')
        .limit(limit)
        .execute();
      return rows.map((r) => ({
        id: idString(r.id),
        client_id: r.client_id,
        client_secret_sealed: r.client_secret_sealed,
        previous_client_secret_sealed: r.previous_client_secret_sealed,
      }));
    },
  };
}

