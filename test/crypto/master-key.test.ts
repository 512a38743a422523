import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { makeDataDir } from '../helpers/app.ts';
import { KEY_FILE_NAME, loadSecretBox } from '../../src/crypto/master-key.ts';
import { secretAad } from '../../src/crypto/secret-box.ts';

const AAD = secretAad('t', '1', 'c');

test('without EOA_MASTER_KEY a key file is created once, mode 0600, and reused', () => {
  const dataDir = path.join(makeDataDir(), 'nested');
  const first = loadSecretBox(null, dataDir);
  const file = path.join(dataDir, KEY_FILE_NAME);
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  assert.equal(Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'base64').length, 32);
  const sealed = first.seal('s3cret', AAD);

  const second = loadSecretBox(null, dataDir);
  assert.equal(second.activeKeyId, first.activeKeyId);
  assert.equal(second.open(sealed, AAD), 's3cret');
});

test('EOA_MASTER_KEY wins over the key file, and no file is written', () => {
  const dataDir = makeDataDir();
  const key = Buffer.alloc(32, 9).toString('base64');
  const box = loadSecretBox(`main:${key}`, dataDir);
  assert.equal(box.activeKeyId, 'main');
  assert.equal(fs.existsSync(path.join(dataDir, KEY_FILE_NAME)), false);
});

test('a corrupt key file is an error, never silently replaced', () => {
  const dataDir = makeDataDir();
  fs.writeFileSync(path.join(dataDir, KEY_FILE_NAME), 'not a key\n', { mode: 0o600 });
  assert.throws(() => loadSecretBox(null, dataDir), /not the base64 encoding/);
  assert.equal(fs.readFileSync(path.join(dataDir, KEY_FILE_NAME), 'utf8'), 'not a key\n');
});
