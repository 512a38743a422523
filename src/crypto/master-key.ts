import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { makeDataDirectory } from '../data-directory.ts';
import { KEY_BYTES, SecretBox, parseMasterKeys } from './secret-box.ts';

export const KEY_FILE_NAME = 'master.key';

/**
 * The master keys come from EOA_MASTER_KEY when set. Otherwise (SQLite only; config refuses PostgreSQL
 * without a key) from `<dataDir>/master.key`, created on first start with mode 0600: the key file must
 * never be readable by anyone but the service's user.
 */
export function loadSecretBox(masterKey: string | null, dataDir: string): SecretBox {
  if (masterKey !== null) return new SecretBox(parseMasterKeys(masterKey));
  return new SecretBox(parseMasterKeys(readOrCreateKeyFile(path.join(dataDir, KEY_FILE_NAME))));
}

function readOrCreateKeyFile(file: string): string {
  makeDataDirectory(path.dirname(file));
  try {
    // 'wx' fails when the file exists, so two processes starting at once cannot both write a key.
    const fd = fs.openSync(file, 'wx', 0o600);
    try {
      fs.writeSync(fd, `${randomBytes(KEY_BYTES).toString('base64')}\n`);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  return fs.readFileSync(file, 'utf8').trim();
}
