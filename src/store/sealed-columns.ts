import { sql } from 'kysely';
import type { Store } from './database.ts';

/**
 * Every column that holds a sealed secret (`v1.<keyId>.<payload>`). A new sealed column is one line here:
 * the start-up check that the configured master keys cover the store reads this list (and a test fails
 * when a `*_sealed` column of the schema is missing from it).
 */
export const SEALED_COLUMNS = [
  { table: 'external_oauth_applications', column: 'client_secret_sealed' },
  { table: 'external_oauth_applications', column: 'previous_client_secret_sealed' },
  { table: 'oauth_pending_authorizations', column: 'code_verifier_sealed' },
  { table: 'oauth_application_user_states', column: 'access_token_sealed' },
  { table: 'oauth_application_user_states', column: 'refresh_token_sealed' },
] as const;

interface KeyIdInUse {
  /** `table.column` */
  column: string;
  keyId: string;
}

/** More distinct key ids than this in one column is not a rotation any more but a damaged store. */
const MAX_KEY_IDS_PER_COLUMN = 100;

/**
 * The key ids each sealed column uses, without reading the values out. A GROUP BY over the key id part
 * of every value costs a substring per row (2.5 s for 1,000,000 rows on SQLite on a busy 2-core machine);
 * instead each key id is found with a scan that skips the ids already found (`v1.<id>.` to `v1.<id>/`, a
 * plain comparison per row) and stops at the first other row. With one key id in use that is one cheap
 * scan: about 1 s for 1,000,000 rows on SQLite, 0.6 to 1 s on PostgreSQL, on that machine. No index: one
 * on a ciphertext would cost every write for a query run once per start.
 */
export async function sealedKeyIdsInUse(store: Store): Promise<KeyIdInUse[]> {
  const inUse: KeyIdInUse[] = [];
  for (const { table, column } of SEALED_COLUMNS) {
    const value = sealedValue(store, column);
    const found: string[] = [];
    for (let i = 0; i < MAX_KEY_IDS_PER_COLUMN; i++) {
      const others = found.map((id) => sql`and not ${underKeyId(value, id)}`);
      const keyIdLength = store.engine === 'postgres' ? sql`strpos(substr(${value}, 4), '.') - 1` : sql`instr(substr(${value}, 4), '.') - 1`;
      const { rows } = await sql<{ key_id: string }>`
        select substr(${value}, 4, ${keyIdLength}) as key_id from ${sql.table(table)}
        where ${value} >= 'v1.' and ${value} < 'v1/' ${sql.join(others, sql` `)} limit 1`.execute(store.db);
      if (rows.length === 0) break;
      found.push(rows[0].key_id);
    }
    inUse.push(...found.sort().map((keyId) => ({ column: `${table}.${column}`, keyId })));
  }
  return inUse;
}

/**
 * The key ids stored secrets need that `configured` lacks, and a description for one line: each with how
 * many values of which column use it (counted for the missing ones only, so a normal start pays nothing).
 */
export async function findMissingKeyIds(store: Store, configured: string[]): Promise<{ keyIds: string[]; description: string }> {
  const missing = (await sealedKeyIdsInUse(store)).filter((u) => !configured.includes(u.keyId));
  const counted: Array<KeyIdInUse & { values: number }> = [];
  for (const { column, keyId } of missing) {
    const [table, name] = column.split('.');
    const { rows } = await sql<{ n: number | string }>`
      select count(*) as n from ${sql.table(table)} where ${underKeyId(sealedValue(store, name), keyId)}`.execute(store.db);
    counted.push({ column, keyId, values: Number(rows[0].n) });
  }
  const keyIds = [...new Set(missing.map((u) => u.keyId))];
  const description = keyIds
    .map((id) => `${id} (${counted.filter((u) => u.keyId === id).map((u) => `${u.values} in ${u.column}`).join(', ')})`)
    .join('; ');
  return { keyIds, description };
}

/** Byte order on PostgreSQL too: a linguistic collation may ignore the '.' and '/' the ranges rely on. */
function sealedValue(store: Store, column: string) {
  return store.engine === 'postgres' ? sql`${sql.ref(column)} collate "C"` : sql`${sql.ref(column)}`;
}

/** Values sealed under `keyId`: from `v1.<keyId>.` up to `v1.<keyId>/` ('/' sorts right after '.'). */
function underKeyId(value: ReturnType<typeof sql>, keyId: string) {
  return sql`(${value} >= ${`v1.${keyId}.`} and ${value} < ${`v1.${keyId}/`})`;
}

/** The configured master keys cannot open part of the store: the service refuses to start (main.ts). */
export class MissingMasterKeysError extends Error {
  constructor(
    readonly keyIds: string[],
    description: string,
    configured: string[],
  ) {
    super(
      `refusing to start: stored secrets are sealed under master key id(s) the configuration lacks: ${description}; ` +
        `configured: ${configured.join(', ')}. Add the missing key(s) to EOA_MASTER_KEY as id:key, ` +
        'or set EOA_ALLOW_MISSING_KEYS=true to start anyway (those secrets then cannot be used)',
    );
    this.name = 'MissingMasterKeysError';
  }
}
