import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.ts';
import { openStore, type Store } from '../store/database.ts';
import { migrateToLatest } from '../store/migrate.ts';
import { waitForDatabase } from '../store/wait-for-database.ts';
import { createRepositories, type Repositories } from '../store/repositories.ts';
import { loadSecretBox } from '../crypto/master-key.ts';
import type { SecretBox } from '../crypto/secret-box.ts';
import { createWriteHealth, type WriteHealth } from '../store/availability.ts';
import { MissingMasterKeysError, findMissingKeyIds } from '../store/sealed-columns.ts';

declare module 'fastify' {
  interface FastifyInstance {
    config: Config;
    store: Store;
    repos: Repositories;
    secretBox: SecretBox;
    /** Whether writes fail for lack of space (store/availability.ts); /readyz reads it. */
    writeHealth: WriteHealth;
    /** Key ids stored secrets need and the configuration lacks: empty unless EOA_ALLOW_MISSING_KEYS. */
    missingKeyIds: string[];
  }
}

/**
 * Layer 1: the secret box and the store, opened, waited for, migrated and checked against the configured
 * master keys before anything is served, decorated on the app for the layers above.
 */
export default fp(
  async (app: FastifyInstance, { config }: { config: Config }) => {
    const secretBox = loadSecretBox(config.masterKey, config.dataDir);
    const store = openStore(config, {
      onConnectionError: (error) => app.log.warn({ code: (error as { code?: string }).code, message: error.message }, 'database connection lost; the pool replaces it'),
    });
    app.addHook('onClose', () => store.close());
    await waitForDatabase(store, { waitS: config.databaseWaitS, onRetry: (message) => app.log.warn(message) });
    await migrateToLatest(store);
    const missing = await findMissingKeyIds(store, secretBox.keyIds);
    if (missing.keyIds.length > 0) {
      if (!config.allowMissingKeys) {
        await store.close();
        throw new MissingMasterKeysError(missing.keyIds, missing.description, secretBox.keyIds);
      }
      app.log.warn({ missingKeyIds: missing.keyIds }, 'started without the master keys of some stored secrets (EOA_ALLOW_MISSING_KEYS)');
    }
    app.decorate('missingKeyIds', missing.keyIds);
    app.decorate('writeHealth', createWriteHealth());
    app.decorate('config', config);
    app.decorate('store', store);
    app.decorate('secretBox', secretBox);
    app.decorate('repos', createRepositories(store.db));
  },
  { name: 'infrastructure' },
);
