import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config.ts';
import { openStore } from '../store/database.ts';
import { createRepositories, type Repositories } from '../store/repositories.ts';
import { KEY_FILE_NAME, loadSecretBox } from '../crypto/master-key.ts';
import { SecretBoxError, sealedKeyId, type SecretBox } from '../crypto/secret-box.ts';
import { storedSecrets, type StoredSecret } from '../services/stored-secrets.ts';
import { readArgs, type CliCommand } from './args.ts';
import { countStoredSecrets } from './count-stored-secrets.ts';
import { startProgress } from './progress.ts';

interface DoctorReport {
  keyIds: string[];
  checked: number;
  failed: number;
  /** Counts by column and key id: what an operator needs to see which key is missing or wrong. */
  byKey: Array<{ column: string; keyId: string; ok: number; failed: number }>;
  /** The first few values that do not open, by row and reason (never the value), to start looking. */
  examples: string[];
}

const ROWS_PER_BATCH = 500;
/** A store of a million rows under a wrong key must not print a million lines. */
const MAX_EXAMPLES = 10;

function describe(secret: StoredSecret): string {
  // A pending authorization is named by its user and application (secret.row), not by its state's hash.
  if ('state_hash' in secret.key) return `${secret.column} ${secret.row}`;
  if ('id' in secret.key) {
    return `${secret.column} id=${secret.key.id} client_id=${JSON.stringify(secret.row)}`;
  }
  return `${secret.column} user_id=${secret.key.user_id} oauth_application_id=${secret.key.oauth_application_id}`;
}

function keyIdOf(sealed: string): string {
  try {
    return sealedKeyId(sealed);
  } catch {
    return '(not a sealed value)';
  }
}

/** Opens every stored secret with the configured keys; what it opened is dropped on the spot. */
export async function checkStoredSecrets(
  repos: Repositories,
  box: SecretBox,
  options: { maxExamples?: number; onBatch?: (checked: number) => void } = {},
): Promise<DoctorReport> {
  const maxExamples = options.maxExamples ?? MAX_EXAMPLES;
  const report: DoctorReport = { keyIds: box.keyIds, checked: 0, failed: 0, byKey: [], examples: [] };
  const counts = new Map<string, DoctorReport['byKey'][number]>();
  for await (const batch of storedSecrets(repos, ROWS_PER_BATCH)) {
    for (const secret of batch) {
      report.checked += 1;
      const keyId = keyIdOf(secret.sealed);
      const slot = `${secret.column}\n${keyId}`;
      let count = counts.get(slot);
      if (!count) counts.set(slot, (count = { column: secret.column, keyId, ok: 0, failed: 0 }));
      try {
        box.open(secret.sealed, secret.aad);
        count.ok += 1;
      } catch (error) {
        count.failed += 1;
        report.failed += 1;
        // SecretBoxError messages name the key id or the failure kind, never the value.
        const reason = error instanceof SecretBoxError ? error.message : 'could not be opened';
        if (report.examples.length < maxExamples) report.examples.push(`${describe(secret)}: ${reason}`);
      }
    }
    options.onBatch?.(report.checked);
  }
  report.byKey = [...counts.values()];
  return report;
}

/** The summary doctor prints: one line per column and key id, a few failing rows, the verdict. */
function describeReport(report: DoctorReport, activeKeyId: string): string {
  const out = [`keys: ${report.keyIds.join(', ')} (active: ${activeKeyId})`];
  for (const { column, keyId, ok, failed } of report.byKey) {
    const known = report.keyIds.includes(keyId) ? 'configured' : 'NOT CONFIGURED';
    out.push(`${column}: key ${keyId} (${known}): ${ok} ok, ${failed} failed`);
  }
  if (report.failed > 0) {
    const which = report.examples.length === report.failed ? `the ${report.failed}` : `first ${report.examples.length} of ${report.failed} (--verbose lists all)`;
    out.push(`${which} that do not open:`, ...report.examples.map((line) => `  ${line}`));
    out.push(`FAILED: ${report.failed} of ${report.checked} stored secret(s) do not open with the configured keys`);
  } else {
    out.push(`ok: all ${report.checked} stored secret(s) open with the configured keys`);
  }
  return out.join('\n');
}

const DOCTOR_USAGE = `usage: external-oauth-apps doctor [--verbose]

Checks that every stored secret opens with the configured master keys (reads only: no migration, no key
file created). Prints a count by column and key id, and the first ${MAX_EXAMPLES} values that do not open
(by table and row, never the value); progress goes to stderr.
  --verbose   list every value that does not open, not only the first ${MAX_EXAMPLES}

Exit code: 0 every stored secret opens, 1 some do not (or no master key), 2 bad command line.`;

/**
 * `external-oauth-apps doctor`: exit 0 when every stored secret opens with the keys in EOA_MASTER_KEY (or
 * the key file), 1 when any does not. It reads only: no migration, and no key file is created when none
 * exists (a new key would open nothing and hide the real problem).
 */
export const doctorCommand: CliCommand<{ verbose: boolean }> = {
  name: 'doctor',
  usage: DOCTOR_USAGE,
  parse(args) {
    const read = readArgs(args, { verbose: { type: 'boolean' } }, { min: 0, max: 0 });
    return read.kind === 'ok' ? { kind: 'ok', options: { verbose: read.values.verbose === true } } : read;
  },
  run: (config, options) => doctor(config, options),
};

async function doctor(config: Config, { verbose }: { verbose: boolean }): Promise<number> {
  const keyFile = path.join(config.dataDir, KEY_FILE_NAME);
  if (config.masterKey === null && !fs.existsSync(keyFile)) {
    process.stderr.write(`no master key: EOA_MASTER_KEY is unset and ${keyFile} does not exist\n`);
    return 1;
  }
  const box = loadSecretBox(config.masterKey, config.dataDir);
  const store = openStore(config);
  try {
    const progress = startProgress({ label: 'checking stored secrets', total: await countStoredSecrets(store), unit: 'values' });
    const report = await checkStoredSecrets(createRepositories(store.db), box, {
      maxExamples: verbose ? Infinity : MAX_EXAMPLES,
      onBatch: (checked) => progress.update(checked),
    });
    progress.finish(report.checked);
    process.stdout.write(`${describeReport(report, box.activeKeyId)}\n`);
    return report.failed === 0 ? 0 : 1;
  } finally {
    await store.close();
  }
}
