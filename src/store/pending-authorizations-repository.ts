import type { Kysely } from 'kysely';
import type { Database, Db } from './schema.ts';
import { idString, nowIso, toIso } from './values.ts';

/** An authorization a user started and the provider has not yet answered; the state only as its hash. */
interface PendingAuthorization {
  state_hash: string;
  user_id: string;
  oauth_application_id: string;
  code_verifier_sealed: string;
  redirect_uri: string;
  expected_issuer: string | null;
  return_to: string | null;
  expires_at: string;
}


export function pendingAuthorizationsRepository(db: Kysely<Database>) {
  return {
    async insert(pending: PendingAuthorization, tx: Db = db): Promise<void> {
      await tx.insertInto('oauth_pending_authorizations').values({ ...pending, created_at: nowIso() }).execute();
    },

    /**
     * Takes the authorization out in one statement (DELETE … RETURNING, on both engines): of two callbacks
     * carrying the same state, exactly one gets the row. Expired rows are returned too, so the caller can
     * say "expired" rather than "unknown"; either way the row is gone.
     */
    async consume(stateHash: string, tx: Db = db): Promise<PendingAuthorization | null> {
      const row = await tx.deleteFrom('oauth_pending_authorizations').where('state_hash', '=', stateHash).returningAll().executeTakeFirst();
      if (!row) return null;
      return {
        state_hash: row.state_hash,
        user_id: idString(row.user_id),
        oauth_application_id: idString(row.oauth_application_id),
        code_verifier_sealed: row.code_verifier_sealed,
        redirect_uri: row.redirect_uri,
        expected_issuer: row.expected_issuer,
        return_to: row.return_to,
        expires_at: toIso(row.expires_at),
      };
    },

    /** Sealed verifiers in state-hash order after `afterHash`, for `doctor` and key rotation. */
    async sealedVerifiers(afterHash: string, limit: number, tx: Db = db) {
      const rows = await tx
        .selectFrom('oauth_pending_authorizations')
        .select(['state_hash', 'user_id', 'oauth_application_id', 'code_verifier_sealed'])
        .where('state_hash', '>', afterHash)
        .orderBy('state_hash')
        .limit(limit)
        .execute();
      return rows.map((r) => ({ ...r, user_id: idString(r.user_id), oauth_application_id: idString(r.oauth_application_id) }));
    },

    /** Removes every authorization that expired before `now`; returns how many. */
    async purgeExpired(now: string = nowIso(), tx: Db = db): Promise<number> {
      const result = await tx.deleteFrom('oauth_pending_authorizations').where('expires_at', '<', now).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
