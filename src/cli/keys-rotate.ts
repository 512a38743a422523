import type { Config } from '../config.ts';
import { openStore, type Store } from '../store/database.ts';
import { migrateToLatest } from '../store/migrate.ts';
import { loadSecretBox } from '../crypto/master-key.ts';
import type { SecretBox } from '../crypto/secret-box.ts';
import { createRepositories } from '../store/repositories.ts';
import { replaceSealedValue } from '../store/sealed-values.ts';
import { storedSecrets, type StoredSecret } from '../services/stored-secrets.ts';
import { USAGE_EXIT, readArgs, runCommand, wholeNumber, type CliCommand } from './args.ts';
import { countStoredSecrets } from './count-stored-secrets.ts';
import { startProgress } from './progress.ts';

interface RotationOptions {
  /** Rows read and re-sealed per transaction. */
  batchSize: number;
  /** Pause between batches, to spread the load on a busy database. */
  pauseMs: number;
  /** Called after every committed batch with the values looked at in this pass so far; never a secret. */
  onBatch?: (progress: RotationReport, examinedThisPass: number) => void;
}

interface RotationReport {
  activeKeyId: string;
  /** Sealed values looked at, over all passes. */
  examined: number;
  resealed: number;
  /** Already under the active key: nothing to do (what a resumed rotation finds for the done part). */
  current: number;
  /** Rewritten by the service between our read and our write; its value was kept. */
  changedConcurrently: number;
  /** Values no configured key opens, by column and row (never the value). */
  unreadable: string[];
  /** Values still under another key after the last pass. */
  remaining: number;
  passes: number;
}

const MAX_PASSES = 3;

/**
 * `external-oauth-apps keys rotate`: re-seals every stored secret under the active (first) key of
 * EOA_MASTER_KEY while the service keeps serving. Each batch is its own short transaction and each write a
 * compare-and-set on the value that was read, so a concurrent update by the service is never overwritten
 * (the service seals with its own active key). The work is idempotent: values already under the active
 * key are skipped, so an interrupted rotation is resumed by running it again. A row that changed under
 * us is looked at again in the next pass; rotation ends when a pass finds nothing left to do.
 */
export async function rotateKeys(store: Store, box: SecretBox, options: RotationOptions): Promise<RotationReport> {
  const repos = createRepositories(store.db);
  const report: RotationReport = {
    activeKeyId: box.activeKeyId,
    examined: 0,
    resealed: 0,
    current: 0,
    changedConcurrently: 0,
    unreadable: [],
    remaining: 0,
    passes: 0,
  };

  for (let pass = 1; pass <= MAX_PASSES; pass += 1) {
    report.passes = pass;
    report.unreadable = [];
    const changedBefore = report.changedConcurrently;
    const examinedBefore = report.examined;
    for await (const batch of storedSecrets(repos, options.batchSize)) {
      const work = reseal(batch, box, report);
      if (work.length > 0) {
        await store.db.transaction().execute(async (tx) => {
          for (const { value, resealed } of work) {
            if (await replaceSealedValue(tx, value, value.sealed, resealed)) report.resealed += 1;
            else report.changedConcurrently += 1;
          }
        });
      }
      options.onBatch?.(report, report.examined - examinedBefore);
      if (options.pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, options.pauseMs));
    }
    // Only a lost compare-and-set can leave work behind in the part already walked.
    if (report.changedConcurrently === changedBefore) break;
  }
  report.remaining = await countRemaining(storedSecrets(repos, options.batchSize), box);
  return report;
}

/** Opens each value under an old key and seals it again under the active one. */
function reseal(batch: StoredSecret[], box: SecretBox, report: RotationReport) {
  const work: Array<{ value: StoredSecret; resealed: string }> = [];
  for (const value of batch) {
    report.examined += 1;
    try {
      if (!box.needsReseal(value.sealed)) {
        report.current += 1;
        continue;
      }
      work.push({ value, resealed: box.seal(box.open(value.sealed, value.aad), value.aad) });
    } catch {
      report.unreadable.push(`${value.column} (${value.row})`);
    }
  }
  return work;
}

async function countRemaining(batches: AsyncGenerator<StoredSecret[]>, box: SecretBox): Promise<number> {
  let remaining = 0;
  for await (const batch of batches) {
    for (const value of batch) {
      try {
        if (box.needsReseal(value.sealed)) remaining += 1;
      } catch {
        remaining += 1;
      }
    }
  }
  return remaining;
}

/** Unreadable rows named by default: a store under a lost key must not print a line per row. */
const MAX_UNREADABLE_LISTED = 10;

/** The lines the command prints: counts and key ids, never a secret. */
function describeRotation(report: RotationReport, listAll = false): string {
  const lines = [
    `active key: ${report.activeKeyId}`,
    `examined ${report.examined}, re-sealed ${report.resealed}, already current ${report.current}, ` +
      `changed by the service meanwhile ${report.changedConcurrently}, passes ${report.passes}`,
  ];
  const listed = listAll ? report.unreadable : report.unreadable.slice(0, MAX_UNREADABLE_LISTED);
  for (const row of listed) lines.push(`unreadable with the configured keys: ${row}`);
  if (listed.length < report.unreadable.length) {
    lines.push(`... and ${report.unreadable.length - listed.length} more unreadable (--verbose lists all; doctor counts them by key id)`);
  }
  if (report.unreadable.length === 0 && report.remaining === 0) {
    lines.push('every stored secret is sealed under the active key: older keys can now be removed from EOA_MASTER_KEY');
  } else {
    lines.push(
      `NOT DONE: ${report.remaining} value(s) still under another key, ${report.unreadable.length} unreadable; ` +
        'keep the old keys in EOA_MASTER_KEY, make sure every instance runs with the new key first, and run again',
    );
  }
  return lines.join('\n');
}

const KEYS_USAGE = `usage: external-oauth-apps keys rotate [--batch-size N] [--pause-ms N] [--verbose]

Re-seals every stored secret under the active (first) key of EOA_MASTER_KEY, while the service serves.
Progress goes to stderr; the result (counts, never a secret) to stdout.
  --batch-size N   rows per transaction, 1 to 10000 (default 100)
  --pause-ms N     pause between batches, 0 to 60000 (default 0)
  --verbose        list every value no configured key opens, not only the first ${MAX_UNREADABLE_LISTED}

Exit code: 0 every stored secret is under the active key, 1 some are not (run it again, see the output),
2 bad command line or no EOA_MASTER_KEY.`;

type KeysOptions = { batchSize: number; pauseMs: number; verbose: boolean };

/** `keys rotate [--batch-size N] [--pause-ms N]`; exit code 0 only when nothing is left under an old key. */
export const keysRotateCommand: CliCommand<KeysOptions> = {
  name: 'keys',
  usage: KEYS_USAGE,
  parse(args) {
    const options = { 'batch-size': { type: 'string' }, 'pause-ms': { type: 'string' }, verbose: { type: 'boolean' } } as const;
    const read = readArgs(args, options, { min: 1, max: 1, name: 'command: keys rotate' });
    if (read.kind !== 'ok') return read;
    if (read.positionals[0] !== 'rotate') return { kind: 'error', message: `unknown command ${read.positionals[0]}; the one keys command is rotate` };
    const batchSize = wholeNumber('--batch-size', read.values['batch-size'], 100, 1, 10_000);
    const pauseMs = wholeNumber('--pause-ms', read.values['pause-ms'], 0, 0, 60_000);
    for (const value of [batchSize, pauseMs]) if (typeof value === 'string') return { kind: 'error', message: value };
    return { kind: 'ok', options: { batchSize: batchSize as number, pauseMs: pauseMs as number, verbose: read.values.verbose === true } };
  },
  async run(config, options) {
    if (config.masterKey === null) {
      // Without the variable there is one key (the key file), and nothing to rotate to.
      process.stderr.write('keys rotate needs EOA_MASTER_KEY: the new key first, then the old one(s), e.g. new:<key>,old:<key>\n');
      return USAGE_EXIT;
    }
    const box = loadSecretBox(config.masterKey, config.dataDir);
    const store = openStore(config);
    try {
      await migrateToLatest(store);
      const total = await countStoredSecrets(store);
      const label = (pass: number) => (pass === 1 ? 're-sealing stored secrets' : `re-sealing stored secrets, pass ${pass} (values the service changed meanwhile)`);
      let pass = 1;
      let progress = startProgress({ label: label(pass), total, unit: 'values' });
      const report = await rotateKeys(store, box, {
        batchSize: options.batchSize,
        pauseMs: options.pauseMs,
        onBatch: (current, examinedThisPass) => {
          if (current.passes !== pass) {
            progress.finish();
            pass = current.passes;
            progress = startProgress({ label: label(pass), total, unit: 'values' });
          }
          progress.update(examinedThisPass);
        },
      });
      progress.finish();
      process.stdout.write(`${describeRotation(report, options.verbose)}\n`);
      return report.remaining === 0 && report.unreadable.length === 0 ? 0 : 1;
    } finally {
      await store.close();
    }
  },
};

/** The command as main runs it, with a configuration already loaded. */
export const keysCommand = (config: Config, args: string[]) => runCommand(keysRotateCommand, args, () => config);
