import { sql } from 'kysely';
import type { Engine } from '../store/database.ts';
import type { Repositories } from '../store/repositories.ts';
import { ADMIN_ROLE_ID, type User, type UserFields } from '../store/users-repository.ts';
import type { CredentialsApi3 } from '../store/credentials-repository.ts';
import { hashSecret, type ScryptCost } from '../crypto/password.ts';
import { ApiError, conflict, invalid, notFound } from '../errors.ts';
import { uniqueViolationColumn } from '../store/unique-violation.ts';
import { isId } from '../store/values.ts';
import { newClientId, newClientSecret } from './sessions.ts';
import type { TokenCache } from './token-cache.ts';
import type { WriteBatcher } from '../store/write-batcher.ts';
import type { AuditService } from './audit.ts';
import { NO_REQUEST, type RequestContext } from './request-context.ts';

interface BootstrapResult {
  userId: string;
  clientId: string;
  /** Present only when the service generated the secret: it is printed once and never again. */
  generatedSecret: string | null;
}

/** Arbitrary but fixed: the advisory lock that serialises first-admin creation across instances. */
const BOOTSTRAP_LOCK_ID = 7_341_011;

/**
 * `tokenCache` is emptied after any change that can revoke a live token, here and on every instance (see
 * token-cache.ts); the change is acknowledged once this instance has heard its notification. Every
 * change goes through `writes` with its audit event in the same savepoint.
 */
export function usersService(repos: Repositories, engine: Engine, tokenCache: TokenCache, writes: WriteBatcher, audit: AuditService, scryptCost?: ScryptCost) {
  /**
   * Self-protection compares ids as text, which holds only for canonical spellings (`01` is not `1`):
   * the routes validate them, and the rules below refuse anything else themselves, whoever calls them.
   */
  function requireId(id: string): string {
    if (!isId(id)) throw notFound();
    return id;
  }

  async function requireUser(id: string): Promise<User> {
    const user = await repos.users.findById(id);
    if (!user) throw notFound();
    return user;
  }

  return {
    /**
     * Creates user 1 with the Admin role and API credentials when the store has no users. Runs in one
     * transaction; on PostgreSQL an advisory lock keeps two instances starting at once from both creating one.
     */
    async bootstrapAdmin(given: { clientId: string; clientSecret: string } | null): Promise<BootstrapResult | null> {
      const clientSecret = given?.clientSecret ?? newClientSecret();
      const clientId = given?.clientId ?? newClientId();
      const secretHash = await hashSecret(clientSecret, scryptCost);
      return repos.db.transaction().execute(async (tx) => {
        if (engine === 'postgres') await sql`select pg_advisory_xact_lock(${BOOTSTRAP_LOCK_ID})`.execute(tx);
        if ((await repos.users.count(tx)) > 0) return null;
        const user = await repos.users.insert({ first_name: 'Admin' }, [ADMIN_ROLE_ID], tx);
        const credentials = await repos.credentials.insert({ user_id: user.id, client_id: clientId, secret_hash: secretHash, purpose: 'bootstrap' }, tx);
        // No request and no actor: the service made these itself, at start-up.
        await audit.record(tx, NO_REQUEST, { action: 'user.create', targetId: user.id, detail: { role_ids: [ADMIN_ROLE_ID] } });
        await audit.record(tx, NO_REQUEST, { action: 'credentials_api3.create', targetId: credentials.id });
        return { userId: user.id, clientId, generatedSecret: given ? null : clientSecret };
      });
    },

    list: (options: { ids?: string[]; limit?: number; offset?: number }) => repos.users.list(options),
    get: requireUser,

    /** The API credentials of each of `users`, in one query however many there are. */
    async credentialsOf(users: User[]): Promise<Map<string, CredentialsApi3[]>> {
      const byUser = new Map<string, CredentialsApi3[]>(users.map((u) => [u.id, []]));
      for (const credentials of await repos.credentials.listForUsers(users.map((u) => u.id))) byUser.get(credentials.user_id)?.push(credentials);
      return byUser;
    },

    async create(context: RequestContext, fields: UserFields): Promise<User> {
      try {
        return await writes.run(async (tx) => {
          const user = await repos.users.insert(fields, [], tx);
          await audit.record(tx, context, { action: 'user.create', targetId: user.id, detail: { fields: fieldNames(writableFields(fields)) } });
          return user;
        });
      } catch (error) {
        if (uniqueViolationColumn(error) === 'email') throw conflict('A user with this email already exists');
        throw error;
      }
    },

    async update(context: RequestContext, callerId: string, id: string, body: UserFields): Promise<User> {
      requireId(id);
      const fields = writableFields(body);
      if (fields.is_disabled === true && id === callerId) {
        throw new ApiError('forbidden', 'You cannot disable yourself');
      }
      try {
        // Disabling revokes: the user's sessions go in the same transaction, so re-enabling later does
        // not bring old tokens back to life.
        const user = await writes.run(async (tx) => {
          const updated = await repos.users.update(id, fields, tx);
          if (updated && fields.is_disabled === true) await repos.sessions.deleteForUser(id, tx);
          if (updated) await audit.record(tx, context, { action: 'user.update', targetId: updated.id, detail: { fields: fieldNames(fields) } });
          return updated;
        });
        if (fields.is_disabled !== undefined) await tokenCache.revoke();
        if (!user) throw notFound();
        return user;
      } catch (error) {
        // Looker documents no 409 for update_user: a taken email is a validation problem there.
        if (uniqueViolationColumn(error) === 'email') {
          throw invalid([{ field: 'email', code: 'already_exists', message: 'A user with this email already exists' }]);
        }
        throw error;
      }
    },

    async delete(context: RequestContext, callerId: string, id: string): Promise<void> {
      if (requireId(id) === callerId) throw new ApiError('forbidden', 'You cannot delete yourself');
      const deleted = await writes.run(async (tx) => {
        const done = await repos.users.delete(id, tx);
        if (done) await audit.record(tx, context, { action: 'user.delete', targetId: id });
        return done;
      });
      await tokenCache.revoke();
      if (!deleted) throw notFound();
    },

    roles: () => repos.users.roles(),

    async userRoles(id: string) {
      const user = await requireUser(id);
      const roles = await repos.users.roles();
      return roles.filter((r) => user.role_ids.includes(r.id));
    },

    async setUserRoles(context: RequestContext, callerId: string, id: string, roleIds: string[]) {
      const user = await requireUser(requireId(id));
      const roles = await repos.users.roles();
      const unknown = roleIds.filter((rid) => !roles.some((r) => r.id === rid));
      if (unknown.length > 0) {
        throw invalid(unknown.map((rid) => ({ field: 'role_ids', code: 'invalid' as const, message: `Role ${rid} does not exist` })));
      }
      if (id === callerId && user.role_ids.includes(ADMIN_ROLE_ID) && !roleIds.includes(ADMIN_ROLE_ID)) {
        throw new ApiError('forbidden', 'You cannot remove your own Admin role');
      }
      const unique = [...new Set(roleIds)];
      await writes.run(async (tx) => {
        await repos.users.setRoles(id, unique, tx);
        await audit.record(tx, context, { action: 'user.set_roles', targetId: id, detail: { role_ids: unique } });
        // The `login/{user_id}` tokens an admin holds end with its Admin role (see sessions-repository.ts).
        if (!unique.includes(ADMIN_ROLE_ID)) await repos.sessions.deleteHeldBy(id, tx);
      });
      await tokenCache.revoke();
      return roles.filter((r) => unique.includes(r.id));
    },

    async listCredentials(userId: string): Promise<CredentialsApi3[]> {
      await requireUser(userId);
      return repos.credentials.listForUser(userId);
    },

    async getCredentials(userId: string, id: string): Promise<CredentialsApi3> {
      const credentials = await repos.credentials.find(userId, id);
      if (!credentials) throw notFound();
      return credentials;
    },

    /** The only moment the client secret exists in the clear: it is returned once and stored as a hash. */
    async createCredentials(context: RequestContext, userId: string, purpose: string | null): Promise<CredentialsApi3 & { client_secret: string }> {
      await requireUser(userId);
      const clientSecret = newClientSecret();
      const values = { user_id: userId, client_id: newClientId(), secret_hash: await hashSecret(clientSecret, scryptCost), purpose };
      const created = await writes.run(async (tx) => {
        const credentials = await repos.credentials.insert(values, tx);
        await audit.record(tx, context, { action: 'credentials_api3.create', targetId: credentials.id });
        return credentials;
      });
      return { ...created, client_secret: clientSecret };
    },

    async updateCredentials(context: RequestContext, userId: string, id: string, fields: { purpose?: string | null; is_disabled?: boolean }) {
      const updated = await writes.run(async (tx) => {
        const credentials = await repos.credentials.update(userId, id, fields, tx);
        if (credentials && fields.is_disabled === true) await repos.sessions.deleteForCredentials(credentials.id, tx);
        if (credentials) await audit.record(tx, context, { action: 'credentials_api3.update', targetId: credentials.id, detail: { fields: fieldNames({ purpose: fields.purpose, is_disabled: fields.is_disabled }) } });
        return credentials;
      });
      if (fields.is_disabled !== undefined) await tokenCache.revoke();
      if (!updated) throw notFound();
      return updated;
    },

    async deleteCredentials(context: RequestContext, userId: string, id: string): Promise<void> {
      const deleted = await writes.run(async (tx) => {
        const done = await repos.credentials.delete(userId, id, tx);
        if (done) await audit.record(tx, context, { action: 'credentials_api3.delete', targetId: id });
        return done;
      });
      await tokenCache.revoke();
      if (!deleted) throw notFound();
    },
  };
}

/** The names of the (known, writable) fields a change sets, for its audit event: never their values. */
function fieldNames(fields: object): string[] {
  return Object.entries(fields)
    .filter(([, value]) => value !== undefined)
    .map(([key]) => key)
    .sort();
}

/**
 * Clients often send back a whole User (`can`, `id`, `role_ids`…): those read-only fields are ignored,
 * as Looker does, and never reach the UPDATE.
 */
function writableFields(body: UserFields): UserFields {
  const keys = ['first_name', 'last_name', 'email', 'locale', 'is_disabled'] as const;
  return Object.fromEntries(keys.filter((k) => body[k] !== undefined).map((k) => [k, body[k]]));
}
