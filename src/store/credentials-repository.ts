import type { Kysely } from 'kysely';
import type { CredentialsApi3Row, Database, Db } from './schema.ts';
import { notifyAuthChange } from './notifications.ts';
import { fromBool, idString, isId, nowIso, toBool, toIso } from './values.ts';

export interface CredentialsApi3 {
  id: string;
  user_id: string;
  client_id: string;
  purpose: string | null;
  is_disabled: boolean;
  created_at: string;
}

/** What login needs: the credential, its hash and whether its user may log in. */
interface LoginCandidate extends CredentialsApi3 {
  secret_hash: string;
  user_is_disabled: boolean;
}


function toCredentials(row: CredentialsApi3Row): CredentialsApi3 {
  return {
    id: idString(row.id),
    user_id: idString(row.user_id),
    client_id: row.client_id,
    purpose: row.purpose,
    is_disabled: toBool(row.is_disabled),
    created_at: toIso(row.created_at),
  };
}

export function credentialsRepository(db: Kysely<Database>) {
  return {
    async insert(
      values: { user_id: string; client_id: string; secret_hash: string; purpose: string | null },
      tx: Db = db,
    ): Promise<CredentialsApi3> {
      const row = await tx
        .insertInto('credentials_api3')
        .values({ ...values, is_disabled: fromBool(false), created_at: nowIso() })
        .returningAll()
        .executeTakeFirstOrThrow();
      return toCredentials(row);
    },

    async listForUser(userId: string, tx: Db = db): Promise<CredentialsApi3[]> {
      if (!isId(userId)) return [];
      const rows = await tx.selectFrom('credentials_api3').selectAll().where('user_id', '=', userId).orderBy('id').execute();
      return rows.map(toCredentials);
    },

    /** The credentials of several users in one query, ordered by id. */
    async listForUsers(userIds: string[], tx: Db = db): Promise<CredentialsApi3[]> {
      const ids = userIds.filter(isId);
      if (ids.length === 0) return [];
      const rows = await tx.selectFrom('credentials_api3').selectAll().where('user_id', 'in', ids).orderBy('id').execute();
      return rows.map(toCredentials);
    },

    async find(userId: string, id: string, tx: Db = db): Promise<CredentialsApi3 | null> {
      if (!isId(userId) || !isId(id)) return null;
      const row = await tx
        .selectFrom('credentials_api3')
        .selectAll()
        .where('user_id', '=', userId)
        .where('id', '=', id)
        .executeTakeFirst();
      return row ? toCredentials(row) : null;
    },

    async update(userId: string, id: string, fields: { purpose?: string | null; is_disabled?: boolean }, tx: Db = db) {
      if (!isId(userId) || !isId(id)) return null;
      const values = {
        ...(fields.purpose === undefined ? {} : { purpose: fields.purpose }),
        ...(fields.is_disabled === undefined ? {} : { is_disabled: fromBool(fields.is_disabled) }),
      };
      if (Object.keys(values).length === 0) return this.find(userId, id, tx);
      const row = await tx
        .updateTable('credentials_api3')
        .set(values)
        .where('user_id', '=', userId)
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirst();
      if (row && fields.is_disabled !== undefined) await notifyAuthChange(tx);
      return row ? toCredentials(row) : null;
    },

    /** Deleting credentials ends every session opened with them (ON DELETE CASCADE). */
    async delete(userId: string, id: string, tx: Db = db): Promise<boolean> {
      if (!isId(userId) || !isId(id)) return false;
      const result = await tx.deleteFrom('credentials_api3').where('user_id', '=', userId).where('id', '=', id).executeTakeFirst();
      if (result.numDeletedRows === 0n) return false;
      await notifyAuthChange(tx);
      return true;
    },

    async findForLogin(clientId: string, tx: Db = db): Promise<LoginCandidate | null> {
      const row = await tx
        .selectFrom('credentials_api3')
        .innerJoin('users', 'users.id', 'credentials_api3.user_id')
        .selectAll('credentials_api3')
        .select('users.is_disabled as user_is_disabled')
        .where('credentials_api3.client_id', '=', clientId)
        .executeTakeFirst();
      if (!row) return null;
      return { ...toCredentials(row), secret_hash: row.secret_hash, user_is_disabled: toBool(row.user_is_disabled) };
    },
  };
}

