import type { ExpressionBuilder, Kysely } from 'kysely';
import type { Database, Db } from './schema.ts';
import { notifyAuthChange } from './notifications.ts';
import { preparedQuery } from './prepared-query.ts';
import { ADMIN_ROLE_ID, USER_ROLE_ID } from './users-repository.ts';
import { fromBool, idString, nowIso, toBool, toIso } from './values.ts';

interface SessionRecord {
  user_id: string;
  /** Who logged in: differs from `user_id` only for a token from `login/{user_id}`, whose holder it is. */
  principal_user_id: string;
  credentials_api3_id: string;
  expires_at: string;
  /** The roles of the user the token acts as, read in the same statement. */
  is_admin: boolean;
  is_user: boolean;
}

type Scope = ExpressionBuilder<Database & { s: Database['sessions'] }, 's'>;

/** `user_roles` row of the user in `column` for the role; its primary key makes this one index probe. */
const roleOf = (eb: Scope, column: 's.user_id' | 's.principal_user_id', roleId: string) =>
  eb.exists(eb.selectFrom('user_roles as r').select('r.role_id').whereRef('r.user_id', '=', column).where('r.role_id', '=', roleId));


export function sessionsRepository(db: Kysely<Database>) {
  // The hot path: compiled once (prepared-query.ts); constants are parameters too, as it requires.
  const liveSession = preparedQuery((tokenHash: string, now: string, enabled: number, adminRoleId: string, userRoleId: string) =>
    db
      .selectFrom('sessions as s')
      .innerJoin('users as u', 'u.id', 's.user_id')
      .innerJoin('users as p', 'p.id', 's.principal_user_id')
      .innerJoin('credentials_api3 as c', 'c.id', 's.credentials_api3_id')
      .select((eb) => [
        's.user_id',
        's.principal_user_id',
        's.credentials_api3_id',
        's.expires_at',
        roleOf(eb, 's.user_id', adminRoleId).as('is_admin'),
        roleOf(eb, 's.user_id', userRoleId).as('is_user'),
      ])
      .where('s.token_hash', '=', tokenHash)
      .where('s.expires_at', '>', now)
      .where('u.is_disabled', '=', enabled)
      .where('p.is_disabled', '=', enabled)
      .where('c.is_disabled', '=', enabled)
      .whereRef('c.user_id', '=', 's.principal_user_id')
      .where((eb) => eb.or([eb('s.user_id', '=', eb.ref('s.principal_user_id')), roleOf(eb, 's.principal_user_id', adminRoleId)])),
  );

  return {
    async insert(
      values: { token_hash: string; user_id: string; principal_user_id: string; credentials_api3_id: string; expires_at: string },
      tx: Db = db,
    ): Promise<void> {
      await tx.insertInto('sessions').values({ ...values, created_at: nowIso() }).execute();
    },

    /**
     * The live session of a token, with the roles of the user it acts as: the one statement behind every
     * authenticated request. Live means unexpired, its credentials enabled and belonging to the user who
     * logged in, both that user and the user it acts as enabled, and, for a token from `login/{user_id}`,
     * its holder still an Admin: a right that ends with the Admin role ends the tokens minted with it.
     * Deleted users or credentials are gone by cascade.
     */
    async findLive(tokenHash: string, now: string, tx: Db = db): Promise<SessionRecord | null> {
      const row = (await liveSession(tx, tokenHash, now, fromBool(false), ADMIN_ROLE_ID, USER_ROLE_ID)).rows[0];
      if (!row) return null;
      return {
        user_id: idString(row.user_id),
        principal_user_id: idString(row.principal_user_id),
        credentials_api3_id: idString(row.credentials_api3_id),
        expires_at: toIso(row.expires_at),
        is_admin: toBool(row.is_admin),
        is_user: toBool(row.is_user),
      };
    },

    /** Ends every session that acts as, or was opened by, the user: disabling is a revocation. */
    async deleteForUser(userId: string, tx: Db = db): Promise<void> {
      await tx.deleteFrom('sessions').where((eb) => eb.or([eb('user_id', '=', userId), eb('principal_user_id', '=', userId)])).execute();
      await notifyAuthChange(tx);
    },

    /**
     * Ends the `login/{user_id}` tokens the user holds: losing the Admin role is a revocation, so getting it
     * back does not revive them (until then the check in `findLive` refuses them anyway).
     */
    async deleteHeldBy(userId: string, tx: Db = db): Promise<void> {
      await tx.deleteFrom('sessions').where('principal_user_id', '=', userId).where('user_id', '<>', userId).execute();
      await notifyAuthChange(tx);
    },

    /** Ends every session opened with the credentials: disabling them is a revocation. */
    async deleteForCredentials(credentialsId: string, tx: Db = db): Promise<void> {
      await tx.deleteFrom('sessions').where('credentials_api3_id', '=', credentialsId).execute();
      await notifyAuthChange(tx);
    },

    /** A logout: every instance drops this one token from its cache (store/notifications.ts). */
    async delete(tokenHash: string, tx: Db = db): Promise<boolean> {
      const result = await tx.deleteFrom('sessions').where('token_hash', '=', tokenHash).executeTakeFirst();
      if (result.numDeletedRows === 0n) return false;
      await notifyAuthChange(tx, tokenHash);
      return true;
    },

    /** Expired sessions need no notification: a cached token never outlives its expiry (token-cache.ts). */

    async deleteExpired(now: string, tx: Db = db): Promise<number> {
      const result = await tx.deleteFrom('sessions').where('expires_at', '<=', now).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}

