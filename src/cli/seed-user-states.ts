import { randomBytes } from 'node:crypto';
import type { Store } from '../store/database.ts';
import type { SecretBox } from '../crypto/secret-box.ts';
import { userStateTokenAad } from '../services/user-states.ts';
import { fromBool, idString } from '../store/values.ts';
import { insertInBatches } from './seed-batches.ts';
import { startProgress } from './progress.ts';

/** Each seeded user is connected to this many applications (fewer when there are fewer applications). */
const STATES_PER_USER = 10;
/** Random bytes per token: 43 characters of base64url, as providers' opaque tokens often are. */
const TOKEN_BYTES = 32;
/** Access tokens outlive any bench by far: reads of them are fresh-token reads, never a refresh. */
const ACCESS_TOKEN_LIFETIME_MS = 30 * 24 * 3600 * 1000;

interface SeedUserStatesOptions {
  /** How many user states (rows of oauth_application_user_states) to create. */
  count: number;
  /** The applications to connect users to, in seeding order; the first is the one every user has. */
  applicationIds: string[];
  /** Prefix of the seeded users' e-mail addresses, as the applications' prefix. */
  prefix: string;
  onProgress?: (done: number, elapsedMs: number) => void;
}

/**
 * The shape of seeded user states, the same at every size so figures at 1,000 and 1,000,000 rows compare:
 * `count / 10` new users (role User), each connected to 10 applications: the first application (an
 * organisation-wide one, whose state list grows with the store: 100,000 users at 1,000,000 states) and 9
 * others taken in turn from the rest, so the other applications hold about one state each.
 *
 * Rows are indistinguishable from ones the service writes through `user_state` (user-states.ts): both
 * tokens sealed with AES-256-GCM under the active master key and bound to their (user, application, column),
 * `status` active, version 0. Returns the new users' ids.
 */
export async function seedUserStates(store: Store, secretBox: SecretBox, options: SeedUserStatesOptions): Promise<string[]> {
  const apps = options.applicationIds;
  if (options.count <= 0) return [];
  if (apps.length === 0) throw new Error('user states need applications to belong to');
  await assertAdminExists(store);
  const perUser = Math.min(STATES_PER_USER, apps.length);
  const userIds = await insertUsers(store, Math.ceil(options.count / perUser), options.prefix);
  const others = apps.length - 1;
  /** The application of the k-th state (0 ≤ k < perUser) of the u-th user. */
  const applicationOf = (u: number, k: number) => (k === 0 ? apps[0] : apps[1 + ((u * (perUser - 1) + k - 1) % others)]);

  const expiresAt = new Date(Date.now() + ACCESS_TOKEN_LIFETIME_MS).toISOString();
  await insertInBatches(
    store,
    options.count,
    async (tx, from, count, now) => {
      // One draw of random bytes for every token of the insert: a draw per token costs more than its sealing.
      const random = randomBytes(count * 2 * TOKEN_BYTES);
      let drawn = 0;
      const token = () => random.subarray(drawn, (drawn += TOKEN_BYTES)).toString('base64url');
      const rows = Array.from({ length: count }, (_, j) => {
        const i = from + j;
        const userId = userIds[Math.floor(i / perUser)];
        const applicationId = applicationOf(Math.floor(i / perUser), i % perUser);
        const seal = (column: 'access_token' | 'refresh_token') => secretBox.seal(token(), userStateTokenAad(userId, applicationId, column));
        return {
          user_id: userId,
          oauth_application_id: applicationId,
          access_token_sealed: seal('access_token'),
          access_token_expires_at: expiresAt,
          refresh_token_sealed: seal('refresh_token'),
          refresh_token_expires_at: null,
          token_type: 'Bearer',
          scope: 'session:role:analyst refresh_token',
          created_at: now,
          updated_at: now,
        };
      });
      await tx.insertInto('oauth_application_user_states').values(rows).execute();
    },
    options.onProgress,
  );
  return userIds;
}

/** The service makes its first admin only in a store without users: seeding users first would lock it out. */
async function assertAdminExists(store: Store): Promise<void> {
  const existing = await store.db.selectFrom('users').select((eb) => eb.fn.countAll<string | number>().as('n')).executeTakeFirstOrThrow();
  if (Number(existing.n) === 0) throw new Error('seed --user-states: start the service once first (it creates its first admin only while the store has no users)');
}

/**
 * `seed COUNT --user-states N`: checked before the applications are seeded (so a refusal leaves the store
 * as it was), run after them on the applications they added.
 */
export async function prepareUserStateSeed(store: Store, options: { userStates: number; prefix: string }) {
  await assertAdminExists(store);
  const after = await lastApplicationId(store);
  return {
    async run(secretBox: SecretBox): Promise<void> {
      const progress = startProgress({ label: 'seeding user states', total: options.userStates, unit: 'user states' });
      await seedUserStates(store, secretBox, {
        count: options.userStates,
        applicationIds: await applicationIdsAfter(store, after),
        prefix: options.prefix,
        onProgress: (done) => progress.update(done),
      });
      progress.finish(options.userStates);
    },
  };
}

/** `count` users with the role User, as `users` creates them; their ids in insertion order. */
async function insertUsers(store: Store, count: number, prefix: string): Promise<string[]> {
  const role = await store.db.selectFrom('roles').select('id').where('name', '=', 'User').executeTakeFirstOrThrow();
  const ids: string[] = [];
  await insertInBatches(store, count, async (tx, from, inInsert, now) => {
    const users = Array.from({ length: inInsert }, (_, k) => {
      const n = from + k + 1;
      return { first_name: 'Seeded', last_name: `User ${n}`, email: `${prefix}user-${n}@example.com`, locale: null, is_disabled: fromBool(false), created_at: now };
    });
    const inserted = (await tx.insertInto('users').values(users).returning('id').execute()).map((r) => idString(r.id));
    await tx.insertInto('user_roles').values(inserted.map((user_id) => ({ user_id, role_id: role.id }))).execute();
    ids.push(...inserted);
  });
  return ids;
}

/** The ids of the applications created after `afterId` (seed.ts assigns them in order), oldest first. */
export async function applicationIdsAfter(store: Store, afterId: string | null): Promise<string[]> {
  let query = store.db.selectFrom('external_oauth_applications').select('id').orderBy('id');
  if (afterId !== null) query = query.where('id', '>', afterId);
  return (await query.execute()).map((r) => idString(r.id));
}

/** The largest application id so far (null: none), to find what a seed adds. */
export async function lastApplicationId(store: Store): Promise<string | null> {
  const row = await store.db.selectFrom('external_oauth_applications').select((eb) => eb.fn.max('id').as('id')).executeTakeFirst();
  return row?.id == null ? null : idString(row.id);
}
