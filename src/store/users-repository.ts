import type { Kysely } from 'kysely';
import type { Database, Db, UserRow } from './schema.ts';
import { notifyAuthChange } from './notifications.ts';
import { fromBool, idString, isId, nowIso, toBool, toIso } from './values.ts';

export interface User {
  id: string;
  first_name: string | null;
  last_name: string | null;
  email: string | null;
  locale: string | null;
  is_disabled: boolean;
  created_at: string;
  role_ids: string[];
}

export interface UserFields {
  first_name?: string | null;
  last_name?: string | null;
  email?: string | null;
  locale?: string | null;
  is_disabled?: boolean;
}

export interface Role {
  id: string;
  name: string;
}

export const ADMIN_ROLE_ID = '1';
export const USER_ROLE_ID = '2';


function toUser(row: UserRow, roleIds: string[]): User {
  return {
    id: idString(row.id),
    first_name: row.first_name,
    last_name: row.last_name,
    email: row.email,
    locale: row.locale,
    is_disabled: toBool(row.is_disabled),
    created_at: toIso(row.created_at),
    role_ids: roleIds,
  };
}

export function usersRepository(db: Kysely<Database>) {
  /** The roles of several users in one query. */
  async function withRoles(tx: Db, rows: UserRow[]): Promise<User[]> {
    if (rows.length === 0) return [];
    const links = await tx
      .selectFrom('user_roles')
      .select(['user_id', 'role_id'])
      .where('user_id', 'in', rows.map((r) => r.id))
      .orderBy('role_id')
      .execute();
    const byUser = new Map<string, string[]>();
    for (const link of links) {
      const key = idString(link.user_id);
      byUser.set(key, [...(byUser.get(key) ?? []), idString(link.role_id)]);
    }
    return rows.map((row) => toUser(row, byUser.get(idString(row.id)) ?? []));
  }

  return {
    async count(tx: Db = db): Promise<number> {
      const row = await tx.selectFrom('users').select((eb) => eb.fn.countAll<string | number>().as('n')).executeTakeFirstOrThrow();
      return Number(row.n);
    },

    /**
     * One statement, a row per role (one with a null role_id for a user without any): every authenticated
     * page and GET /user read their user this way, and on PostgreSQL a statement is a round trip.
     */
    async findById(id: string, tx: Db = db): Promise<User | null> {
      if (!isId(id)) return null;
      const rows = await tx
        .selectFrom('users as u')
        .leftJoin('user_roles as r', 'r.user_id', 'u.id')
        .selectAll('u')
        .select('r.role_id')
        .where('u.id', '=', id)
        .orderBy('r.role_id')
        .execute();
      if (rows.length === 0) return null;
      return toUser(rows[0], rows.flatMap((row) => (row.role_id === null ? [] : [idString(row.role_id)])));
    },

    async list(options: { ids?: string[]; limit?: number; offset?: number } = {}, tx: Db = db): Promise<User[]> {
      let query = tx.selectFrom('users').selectAll().orderBy('id');
      if (options.ids) {
        const ids = options.ids.filter(isId);
        if (ids.length === 0) return [];
        query = query.where('id', 'in', ids);
      }
      // SQLite has no OFFSET without LIMIT, so an offset alone comes with an unbounded limit.
      if (options.limit !== undefined || options.offset !== undefined) {
        query = query.limit(options.limit ?? Number.MAX_SAFE_INTEGER).offset(options.offset ?? 0);
      }
      return withRoles(tx, await query.execute());
    },

    async insert(fields: UserFields, roleIds: string[], tx: Db = db): Promise<User> {
      const row = await tx
        .insertInto('users')
        .values({
          first_name: fields.first_name ?? null,
          last_name: fields.last_name ?? null,
          email: fields.email ?? null,
          locale: fields.locale ?? null,
          is_disabled: fromBool(fields.is_disabled ?? false),
          created_at: nowIso(),
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      if (roleIds.length > 0) {
        await tx.insertInto('user_roles').values(roleIds.map((role_id) => ({ user_id: row.id, role_id }))).execute();
      }
      return (await withRoles(tx, [row]))[0];
    },

    async update(id: string, fields: UserFields, tx: Db = db): Promise<User | null> {
      if (!isId(id)) return null;
      const values = {
        ...fields,
        ...(fields.is_disabled === undefined ? {} : { is_disabled: fromBool(fields.is_disabled) }),
      };
      const row =
        Object.keys(values).length === 0
          ? await tx.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst()
          : await tx.updateTable('users').set(values).where('id', '=', id).returningAll().executeTakeFirst();
      // Disabling revokes, enabling may let tokens in again: either changes what a token authenticates.
      if (row && fields.is_disabled !== undefined) await notifyAuthChange(tx);
      return row ? (await withRoles(tx, [row]))[0] : null;
    },

    async delete(id: string, tx: Db = db): Promise<boolean> {
      if (!isId(id)) return false;
      const result = await tx.deleteFrom('users').where('id', '=', id).executeTakeFirst();
      if (result.numDeletedRows === 0n) return false;
      await notifyAuthChange(tx);
      return true;
    },

    async setRoles(userId: string, roleIds: string[], tx: Db = db): Promise<void> {
      await tx.deleteFrom('user_roles').where('user_id', '=', userId).execute();
      if (roleIds.length > 0) {
        await tx.insertInto('user_roles').values(roleIds.map((role_id) => ({ user_id: userId, role_id }))).execute();
      }
      // Roles are part of every authentication answer (is_admin, is_user, a holder's right).
      await notifyAuthChange(tx);
    },

    async roles(tx: Db = db): Promise<Role[]> {
      const rows = await tx.selectFrom('roles').selectAll().orderBy('id').execute();
      return rows.map((r) => ({ id: idString(r.id), name: r.name }));
    },
  };
}

