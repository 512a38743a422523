import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config.ts';
import { openStore } from '../store/database.ts';
import { createRepositories, type Repositories } from '../store/repositories.ts';
import { KEY_FILE_NAME, loadSecretBox } from '../crypto/master-key.ts';
import { SecretBoxError, type SecretBox } from '../crypto/secret-box.ts';
import { storedSecrets, type StoredSecret } from '../services/stored-secrets.ts';

export interface DoctorReport {
  keyIds: string[];
  checked: number;
  /** One line per value that does not open: where it is and why, never the value. */
  failures: string[];
}

const ROWS_PER_BATCH = 500;

function describe(secret: StoredSecret): string {
  // A pending authorization is named by its user and application (secret.row), not by its state's hash.
  if ('state_hash' in secret.key) return `${secret.column} ${secret.row}`;
  if ('id' in secret.key) {
    return `${secret.column} id=${secret.key.id} client_id=${JSON.stringify(secret.row)}`;
  }
  return `${secret.column} user_id=${secret.key.user_id} oauth_application_id=${secret.key.oauth_application_id}`;
}

/** Opens every stored secret with the configured keys; what it opened is dropped on the spot. */
export async function checkStoredSecrets(repos: Repositories, box: SecretBox): Promise<DoctorReport> {
  const report: DoctorReport = { keyIds: box.keyIds, checked: 0, failures: [] };
  for await (const batch of storedSecrets(repos, ROWS_PER_BATCH)) {
    for (const secret of batch) {
      report.checked += 1;
      try {
        box.open(secret.sealed, secret.aad);
      } catch (error) {
        // SecretBoxError messages name the key id or the failure kind, never the value.
        const reason = error instanceof SecretBoxError ? error.message : 'could not be opened';
        report.failures.push(`${describe(secret)}: ${reason}`);
      }
    }
  }
  return report;
}

/**
 * `external-oauth-apps doctor`: exit 0 when every stored secret opens with the keys in EOA_MASTER_KEY (or
 * the key file), 1 when any does not. It reads only: no migration, and no key file is created when none
 * exists (a new key would open nothing and hide the real problem).
 */
export async function doctorCommand(config: Config): Promise<number> {
  const keyFile = path.join(config.dataDir, KEY_FILE_NAME);
  if (config.masterKey === null && !fs.existsSync(keyFile)) {
    process.stderr.write(`no master key: EOA_MASTER_KEY is unset and ${keyFile} does not exist\n`);
    return 1;
  }
  const box = loadSecretBox(config.masterKey, config.dataDir);
  const store = openStore(config);
  try {
    const report = await checkStoredSecrets(createRepositories(store.db), box);
    const out = [`keys: ${report.keyIds.join(', ')} (active: ${box.activeKeyId})`, ...report.failures];
    out.push(
      report.failures.length === 0
        ? `ok: all ${report.checked} stored secret(s) open with the configured keys`
        : `FAILED: ${report.failures.length} of ${report.checked} stored secret(s) do not open with the configured keys`,
    );
    process.stdout.write(`${out.join('\n')}\n`);
    return report.failures.length === 0 ? 0 : 1;
  } finally {
    await store.close();
  }
}
