import type { Kysely } from 'kysely';
import type { Database, Db } from './schema.ts';
import { preparedQuery } from './prepared-query.ts';
import { sqliteReader } from './sqlite-statement-cache.ts';
import { idString, isId, nowIso, toIso, toNullableIso } from './values.ts';


export interface TokenStateKey {
  user_id: string;
  oauth_application_id: string;
}

/** What refresh, status and revocation read of a user state: the sealed tokens and the bookkeeping. */
export interface TokenStateRow extends TokenStateKey {
  access_token_sealed: string;
  access_token_expires_at: string;
  refresh_token_sealed: string | null;
  refresh_token_expires_at: string | null;
  status: string;
  version: string;
  lease_owner: string | null;
  lease_expires_at: string | null;
  last_error: string | null;
  last_refreshed_at: string | null;
  retry_at: string | null;
  token_type: string | null;
  scope: string | null;
  updated_at: string;
}

/** The status fields only: what a list of states shows (never a sealed token). */
export type TokenStatusRow = Omit<TokenStateRow, 'access_token_sealed' | 'refresh_token_sealed' | 'lease_owner' | 'lease_expires_at'> & {
  has_refresh_token: boolean;
};

type Row = Awaited<ReturnType<ReturnType<typeof selectState>['executeTakeFirst']>>;

function selectState(db: Db) {
  return db.selectFrom('oauth_application_user_states').selectAll();
}

function toState(row: NonNullable<Row>): TokenStateRow {
  return {
    user_id: idString(row.user_id),
    oauth_application_id: idString(row.oauth_application_id),
    access_token_sealed: row.access_token_sealed,
    access_token_expires_at: toIso(row.access_token_expires_at),
    refresh_token_sealed: row.refresh_token_sealed,
    refresh_token_expires_at: toNullableIso(row.refresh_token_expires_at),
    status: row.status,
    version: String(row.version),
    lease_owner: row.lease_owner,
    lease_expires_at: toNullableIso(row.lease_expires_at),
    last_error: row.last_error,
    last_refreshed_at: toNullableIso(row.last_refreshed_at),
    retry_at: toNullableIso(row.retry_at),
    token_type: row.token_type,
    scope: row.scope,
    updated_at: toIso(row.updated_at),
  };
}

function toStatus(row: NonNullable<Row>): TokenStatusRow {
  const { access_token_sealed: _a, refresh_token_sealed, lease_owner: _o, lease_expires_at: _l, ...rest } = toState(row);
  return { ...rest, has_refresh_token: refresh_token_sealed !== null };
}

/** New tokens from the provider, sealed; a null refresh token keeps the stored one (no rotation). */
interface RefreshedTokens {
  access_token_sealed: string;
  access_token_expires_at: string;
  refresh_token_sealed: string | null;
  refresh_token_expires_at: string | null;
  token_type: string | null;
  scope: string | null;
}

/**
 * The refresh bookkeeping of user states. Every write that follows a read is a compare-and-set on what
 * was read (the `version`, or the lease owner), so two instances never both act on one state and a
 * result is never stored over a newer one: a false return means "someone else changed it; read again".
 * No statement here spans a call to the provider.
 */
export function tokenStateRepository(db: Kysely<Database>) {
  const byKey = <Q extends { where: (...args: any[]) => any }>(query: Q, key: TokenStateKey): Q =>
    query.where('user_id', '=', key.user_id).where('oauth_application_id', '=', key.oauth_application_id);
  // The hot path of every token read, compiled once (prepared-query.ts): the application by client_id and
  // the user's state for it, in one statement.
  const byClientId = preparedQuery((userId: string, clientId: string) =>
    db
      .selectFrom('external_oauth_applications as a')
      .leftJoin('oauth_application_user_states as s', (join) => join.onRef('s.oauth_application_id', '=', 'a.id').on('s.user_id', '=', userId))
      .selectAll('s')
      .select('a.id as application_id')
      .where('a.client_id', '=', clientId),
  );
  // On SQLite, the same statement outside a transaction, raw (sqlite-statement-cache.ts).
  const reader = sqliteReader(db);
  const BY_CLIENT_ID =
    'select "s".*, "a"."id" as "application_id" from "external_oauth_applications" as "a" ' +
    'left join "oauth_application_user_states" as "s" on "s"."oauth_application_id" = "a"."id" and "s"."user_id" = ? ' +
    'where "a"."client_id" = ?';

  return {
    /**
     * The application with this client_id (its id, or null when there is none) and the user's state for
     * it (null when they have none): what a token read needs first, in one query.
     */
    async findByClientId(userId: string, clientId: string, tx: Db = db): Promise<{ applicationId: string | null; state: TokenStateRow | null }> {
      if (!isId(userId)) return { applicationId: null, state: null };
      const [row] = reader && tx === db ? reader.all<Awaited<ReturnType<typeof byClientId>>['rows'][number]>(BY_CLIENT_ID, userId, clientId) : (await byClientId(tx, userId, clientId)).rows;
      if (!row) return { applicationId: null, state: null };
      return { applicationId: idString(row.application_id), state: row.user_id === null ? null : toState(row as NonNullable<Row>) };
    },

    async find(key: TokenStateKey, tx: Db = db): Promise<TokenStateRow | null> {
      if (!isId(key.user_id) || !isId(key.oauth_application_id)) return null;
      const row = await byKey(selectState(tx), key).executeTakeFirst();
      return row ? toState(row) : null;
    },

    /**
     * Takes the refresh lease of a state still as read: same version, same lease holder (none, or one
     * whose lease the caller saw expire), still `active`. True when this caller now holds it.
     */
    async acquireLease(read: TokenStateRow, owner: string, until: string, tx: Db = db): Promise<boolean> {
      let query = byKey(tx.updateTable('oauth_application_user_states'), read)
        .set({ lease_owner: owner, lease_expires_at: until })
        .where('version', '=', read.version)
        .where('status', '=', 'active');
      query = read.lease_owner === null ? query.where('lease_owner', 'is', null) : query.where('lease_owner', '=', read.lease_owner);
      return (await query.executeTakeFirst()).numUpdatedRows > 0n;
    },

    /**
     * Stores a refresh's result and releases the lease in one statement, only while `owner` still holds
     * the lease on `version`: the new refresh token replaces the old one before any caller sees the new
     * access token.
     */
    async storeRefreshed(key: TokenStateKey, owner: string, version: string, tokens: RefreshedTokens, tx: Db = db): Promise<boolean> {
      const now = nowIso();
      const result = await byKey(tx.updateTable('oauth_application_user_states'), key)
        .set((eb) => ({
          access_token_sealed: tokens.access_token_sealed,
          access_token_expires_at: tokens.access_token_expires_at,
          token_type: tokens.token_type,
          // RFC 6749 §5.1: a response without `scope` means the scope granted before.
          ...(tokens.scope === null ? {} : { scope: tokens.scope }),
          ...(tokens.refresh_token_sealed === null
            ? {}
            : { refresh_token_sealed: tokens.refresh_token_sealed, refresh_token_expires_at: tokens.refresh_token_expires_at }),
          version: eb('version', '+', 1),
          status: 'active',
          lease_owner: null,
          lease_expires_at: null,
          last_error: null,
          retry_at: null,
          last_refreshed_at: now,
          updated_at: now,
        }))
        .where('lease_owner', '=', owner)
        .where('version', '=', version)
        .executeTakeFirst();
      return result.numUpdatedRows > 0n;
    },

    /**
     * Ends a lease with a failure: `needs_reauth` (the grant is gone) or a provider failure with the time
     * before which no one asks again. The tokens stay as they were.
     */
    async recordFailure(
      key: TokenStateKey,
      owner: string,
      failure: { status: 'active' | 'needs_reauth'; last_error: string; retry_at: string | null },
      tx: Db = db,
    ): Promise<boolean> {
      const result = await byKey(tx.updateTable('oauth_application_user_states'), key)
        .set({ ...failure, lease_owner: null, lease_expires_at: null, updated_at: nowIso() })
        .where('lease_owner', '=', owner)
        .executeTakeFirst();
      return result.numUpdatedRows > 0n;
    },

    /**
     * `needs_reauth` without a refresh (nothing to refresh with), on the state as read: same version, same
     * lease holder (none, or one whose lease ran out, which this clears).
     */
    async markNeedsReauth(read: TokenStateRow, lastError: string, tx: Db = db): Promise<boolean> {
      let query = byKey(tx.updateTable('oauth_application_user_states'), read)
        .set({ status: 'needs_reauth', last_error: lastError, lease_owner: null, lease_expires_at: null, updated_at: nowIso() })
        .where('version', '=', read.version)
        .where('status', '=', 'active');
      query = read.lease_owner === null ? query.where('lease_owner', 'is', null) : query.where('lease_owner', '=', read.lease_owner);
      return (await query.executeTakeFirst()).numUpdatedRows > 0n;
    },

    /** Gives a lease back unchanged (the refresh ended without a result to record). */
    async releaseLease(key: TokenStateKey, owner: string, tx: Db = db): Promise<void> {
      await byKey(tx.updateTable('oauth_application_user_states'), key)
        .set({ lease_owner: null, lease_expires_at: null })
        .where('lease_owner', '=', owner)
        .execute();
    },

    async status(key: TokenStateKey, tx: Db = db): Promise<TokenStatusRow | null> {
      if (!isId(key.user_id) || !isId(key.oauth_application_id)) return null;
      const row = await byKey(selectState(tx), key).executeTakeFirst();
      return row ? toStatus(row) : null;
    },

    /** The states of one application in user id order, paged. */
    async listStatuses(applicationId: string, page: { limit: number; offset: number }, tx: Db = db): Promise<TokenStatusRow[]> {
      if (!isId(applicationId)) return [];
      const rows = await selectState(tx)
        .where('oauth_application_id', '=', applicationId)
        .orderBy('user_id')
        .limit(page.limit)
        .offset(page.offset)
        .execute();
      return rows.map(toStatus);
    },

    /** Deletes one state and hands back its sealed tokens (for revocation at the provider); null if none. */
    async deleteReturning(key: TokenStateKey, tx: Db = db): Promise<TokenStateRow | null> {
      if (!isId(key.user_id) || !isId(key.oauth_application_id)) return null;
      const row = await byKey(tx.deleteFrom('oauth_application_user_states'), key).returningAll().executeTakeFirst();
      return row ? toState(row) : null;
    },

    /** Every state of an application with its sealed tokens, in bounded pages, for revoking them all. */
    async statesOfApplication(applicationId: string, afterUserId: string, limit: number, tx: Db = db): Promise<TokenStateRow[]> {
      if (!isId(applicationId)) return [];
      const rows = await selectState(tx)
        .where('oauth_application_id', '=', applicationId)
        .where('user_id', '>', afterUserId)
        .orderBy('user_id')
        .limit(limit)
        .execute();
      return rows.map(toState);
    },
  };
}

export type TokenStateRepository = ReturnType<typeof tokenStateRepository>;
