import type { Kysely } from 'kysely';
import type { Database, Db } from './schema.ts';
import { idString, isId, nowIso, toIso, toNullableIso } from './values.ts';

interface UserStateRecord {
  user_id: string;
  oauth_application_id: string;
  access_token_sealed: string;
  access_token_expires_at: string;
  refresh_token_sealed: string | null;
  refresh_token_expires_at: string | null;
  /** What the provider said with the tokens, when it came from one (the connect flow). */
  token_type?: string | null;
  scope?: string | null;
}


/** What may be said about a stored state without opening it: never a token. */
interface UserStateSummary {
  oauth_application_id: string;
  access_token_expires_at: string;
  has_refresh_token: boolean;
  refresh_token_expires_at: string | null;
  updated_at: string;
}

/** The key of a user state row, as paging through sealed tokens uses it. */
interface UserStateKey {
  user_id: string;
  oauth_application_id: string;
}

export function userStatesRepository(db: Kysely<Database>) {
  return {
    /**
     * Inserts or replaces the state of (user, application) in one statement: tokens rotate. New tokens
     * make the state `active` again (a reconnect ends `needs_reauth`) and bump its version, so a refresh
     * still in flight for the old tokens cannot store its result over these (oauth/refresh.ts).
     */
    async upsert(state: UserStateRecord, tx: Db = db): Promise<void> {
      const now = nowIso();
      const tokens = {
        access_token_sealed: state.access_token_sealed,
        access_token_expires_at: state.access_token_expires_at,
        refresh_token_sealed: state.refresh_token_sealed,
        refresh_token_expires_at: state.refresh_token_expires_at,
        token_type: state.token_type ?? null,
        scope: state.scope ?? null,
      };
      await tx
        .insertInto('oauth_application_user_states')
        .values({ ...state, ...tokens, created_at: now, updated_at: now })
        .onConflict((oc) =>
          oc.columns(['user_id', 'oauth_application_id']).doUpdateSet((eb) => ({
            ...tokens,
            status: 'active',
            version: eb('oauth_application_user_states.version', '+', 1),
            lease_owner: null,
            lease_expires_at: null,
            last_error: null,
            retry_at: null,
            updated_at: now,
          })),
        )
        .execute();
    },

    /** One user's states, by application id; the sealed columns are never selected. */
    async summariesForUser(userId: string, tx: Db = db): Promise<UserStateSummary[]> {
      if (!isId(userId)) return [];
      const rows = await tx
        .selectFrom('oauth_application_user_states')
        .select((eb) => [
          'oauth_application_id',
          'access_token_expires_at',
          'refresh_token_expires_at',
          'updated_at',
          eb('refresh_token_sealed', 'is not', null).as('has_refresh_token'),
        ])
        .where('user_id', '=', userId)
        .orderBy('oauth_application_id')
        .execute();
      return rows.map((r) => ({
        oauth_application_id: idString(r.oauth_application_id),
        access_token_expires_at: toIso(r.access_token_expires_at),
        has_refresh_token: Boolean(r.has_refresh_token),
        refresh_token_expires_at: toNullableIso(r.refresh_token_expires_at),
        updated_at: toIso(r.updated_at),
      }));
    },

    async countForApplication(applicationId: string, tx: Db = db): Promise<number> {
      if (!isId(applicationId)) return 0;
      const row = await tx
        .selectFrom('oauth_application_user_states')
        .select((eb) => eb.fn.countAll<string | number>().as('n'))
        .where('oauth_application_id', '=', applicationId)
        .executeTakeFirstOrThrow();
      return Number(row.n);
    },

    /** Every sealed token, in key order after `after` (null: from the start), for `doctor` and key rotation. */
    async sealedTokens(after: UserStateKey | null, limit: number, tx: Db = db) {
      let query = tx
        .selectFrom('oauth_application_user_states')
        .select(['user_id', 'oauth_application_id', 'access_token_sealed', 'refresh_token_sealed'])
        .orderBy('user_id')
        .orderBy('oauth_application_id')
        .limit(limit);
      if (after) {
        query = query.where((eb) =>
          eb.or([
            eb('user_id', '>', after.user_id),
            eb.and([eb('user_id', '=', after.user_id), eb('oauth_application_id', '>', after.oauth_application_id)]),
          ]),
        );
      }
      const rows = await query.execute();
      return rows.map((r) => ({
        user_id: idString(r.user_id),
        oauth_application_id: idString(r.oauth_application_id),
        access_token_sealed: r.access_token_sealed,
        refresh_token_sealed: r.refresh_token_sealed,
      }));
    },
  };
}

