import { randomBytes } from 'node:crypto';
import { openStore, type Store } from '../store/database.ts';
import { migrateToLatest } from '../store/migrate.ts';
import { loadSecretBox } from '../crypto/master-key.ts';
import { secretAad, type SecretBox } from '../crypto/secret-box.ts';
import { readArgs, wholeNumber, type CliCommand } from './args.ts';
import { insertInBatches } from './seed-batches.ts';
import { prepareUserStateSeed } from './seed-user-states.ts';
import { startProgress } from './progress.ts';

const DIALECTS = ['snowflake', 'databricks', 'bigquery_standard_sql', 'postgres', null];

interface SeedOptions {
  count: number;
  /** Prefix of every name and client_id, so that seeding twice does not collide. */
  prefix: string;
  onProgress?: (done: number, elapsedMs: number) => void;
}

/**
 * Loads `count` applications in multi-row inserts, with client secrets sealed exactly as the service
 * seals them (AES-256-GCM, row-bound additional data), so the data is as realistic as created ones.
 * Names are `<prefix><i>` and client_ids `<prefix>client-<i>`, i from 1.
 */
export async function seedApplications(store: Store, secretBox: SecretBox, options: SeedOptions): Promise<void> {
  await insertInBatches(
    store,
    options.count,
    async (tx, from, count, now) => {
      const rows = Array.from({ length: count }, (_, k) => {
        const i = from + k + 1;
        const clientId = `${options.prefix}client-${i}`;
        return {
          name: `${options.prefix}${i}`,
          client_id: clientId,
          client_secret_sealed: secretBox.seal(randomBytes(24).toString('base64url'), secretAad('external_oauth_applications', clientId, 'client_secret')),
          tenant_id: i % 2 === 0 ? `tenant-${i % 97}` : null,
          dialect_name: DIALECTS[i % DIALECTS.length],
          bi_directional_data_access: i % 3 === 0 ? null : (i % 3) - 1,
          created_at: now,
          updated_at: now,
        };
      });
      await tx.insertInto('external_oauth_applications').values(rows).execute();
    },
    options.onProgress,
  );
}

const SEED_USAGE = `usage: external-oauth-apps seed [COUNT] [--prefix PREFIX] [--user-states N]

Loads COUNT (default 1,000,000) generated applications, for benchmarks; with --user-states, also N users'
tokens for them (N / 10 new users, each connected to the first new application and 9 others).`;

/** `external-oauth-apps seed [COUNT] [--prefix PREFIX] [--user-states N]`: COUNT defaults to 1,000,000. */
export const seedCommand: CliCommand<Omit<SeedOptions, 'onProgress'> & { userStates: number }> = {
  name: 'seed',
  usage: SEED_USAGE,
  parse(args) {
    const read = readArgs(args, { prefix: { type: 'string' }, 'user-states': { type: 'string' } }, { min: 0, max: 1 });
    if (read.kind !== 'ok') return read;
    const count = wholeNumber('COUNT', read.positionals[0], 1_000_000, 1, 100_000_000);
    if (typeof count === 'string') return { kind: 'error', message: count };
    const userStates = wholeNumber('--user-states', read.values['user-states'] as string | undefined, 0, 0, 100_000_000);
    if (typeof userStates === 'string') return { kind: 'error', message: userStates };
    const prefix = read.values.prefix;
    if (prefix === '') return { kind: 'error', message: '--prefix needs a value' };
    return { kind: 'ok', options: { count, userStates, prefix: typeof prefix === 'string' ? prefix : `seed-${randomBytes(3).toString('hex')}-` } };
  },
  async run(config, options) {
    const secretBox = loadSecretBox(config.masterKey, config.dataDir);
    const store = openStore(config);
    try {
      await migrateToLatest(store);
      const userStates = options.userStates > 0 ? await prepareUserStateSeed(store, options) : null;
      const progress = startProgress({ label: 'seeding applications', total: options.count, unit: 'applications' });
      await seedApplications(store, secretBox, { ...options, onProgress: (done) => progress.update(done) });
      progress.finish(options.count);
      await userStates?.run(secretBox);
      // stdout holds the result alone, for a script (bench/) to read.
      process.stdout.write(`seeded ${options.count} applications, names ${options.prefix}1 to ${options.prefix}${options.count}${userStates ? `, and ${options.userStates} user states` : ''}\n`);
      return 0;
    } finally {
      await store.close();
    }
  },
};
