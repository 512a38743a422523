import type { Kysely, Transaction } from 'kysely';
import type { Database } from './schema.ts';
import { fromBool, idString, nowIso, toIso } from './values.ts';

export interface SessionRecord {
  user_id: string;
  principal_user_id: string;
  credentials_api3_id: string;
  expires_at: string;
}

type Db = Kysely<Database> | Transaction<Database>;

export function sessionsRepository(db: Kysely<Database>) {
  return {
    async insert(
      values: { token_hash: string; user_id: string; principal_user_id: string; credentials_api3_id: string; expires_at: string },
      tx: Db = db,
    ): Promise<void> {
      await tx.insertInto('sessions').values({ ...values, created_at: nowIso() }).execute();
    },

    /**
     * The live session of a token: unexpired, its credentials enabled, and both the user it acts as and
     * the user who logged in enabled. One indexed query; deleted users or credentials are gone by cascade.
     */
    async findLive(tokenHash: string, now: string, tx: Db = db): Promise<SessionRecord | null> {
      const row = await tx
        .selectFrom('sessions as s')
        .innerJoin('users as u', 'u.id', 's.user_id')
        .innerJoin('users as p', 'p.id', 's.principal_user_id')
        .innerJoin('credentials_api3 as c', 'c.id', 's.credentials_api3_id')
        .select(['s.user_id', 's.principal_user_id', 's.credentials_api3_id', 's.expires_at'])
        .where('s.token_hash', '=', tokenHash)
        .where('s.expires_at', '>', now)
        .where('u.is_disabled', '=', fromBool(false))
        .where('p.is_disabled', '=', fromBool(false))
        .where('c.is_disabled', '=', fromBool(false))
        .executeTakeFirst();
      if (!row) return null;
      return {
        user_id: idString(row.user_id),
        principal_user_id: idString(row.principal_user_id),
        credentials_api3_id: idString(row.credentials_api3_id),
        expires_at: toIso(row.expires_at),
      };
    },

    /** Ends every session that acts as, or was opened by, the user: disabling is a revocation. */
    async deleteForUser(userId: string, tx: Db = db): Promise<void> {
      await tx.deleteFrom('sessions').where((eb) => eb.or([eb('user_id', '=', userId), eb('principal_user_id', '=', userId)])).execute();
    },

    /** Ends every session opened with the credentials: disabling them is a revocation. */
    async deleteForCredentials(credentialsId: string, tx: Db = db): Promise<void> {
      await tx.deleteFrom('sessions').where('credentials_api3_id', '=', credentialsId).execute();
    },

    async delete(tokenHash: string, tx: Db = db): Promise<boolean> {
      const result = await tx.deleteFrom('sessions').where('token_hash', '=', tokenHash).executeTakeFirst();
      return result.numDeletedRows > 0n;
    },

    async deleteExpired(now: string, tx: Db = db): Promise<number> {
      const result = await tx.deleteFrom('sessions').where('expires_at', '<=', now).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}

export type SessionsRepository = ReturnType<typeof sessionsRepository>;
