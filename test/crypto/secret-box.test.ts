import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SecretBox, SecretBoxError, keyFingerprint, parseMasterKeys, secretAad, sealedKeyId } from '../../src/crypto/secret-box.ts';

const KEY_A = Buffer.alloc(32, 1).toString('base64');
const KEY_B = Buffer.alloc(32, 2).toString('base64');
const AAD = secretAad('external_oauth_applications', 'client-1', 'client_secret');

test('seal and open round-trip; the sealed form names version and key and hides the plaintext', () => {
  const box = new SecretBox(parseMasterKeys(`a:${KEY_A}`));
  for (const plaintext of ['s3cret', '', 'ünïcödé ✓ 😀', 'x'.repeat(10_000)]) {
    const sealed = box.seal(plaintext, AAD);
    assert.match(sealed, /^v1\.a\.[A-Za-z0-9_-]+$/);
    if (plaintext) assert.ok(!sealed.includes(plaintext));
    assert.equal(box.open(sealed, AAD), plaintext);
  }
  assert.notEqual(box.seal('same', AAD), box.seal('same', AAD), 'a fresh IV every time');
});

test('every seal has an IV of its own, across refills of the pool the IVs are cut from', () => {
  const box = new SecretBox(parseMasterKeys(`a:${KEY_A}`));
  const ivs = new Set<string>();
  // More seals than one pool holds (341), so IVs from several pools are compared.
  for (let i = 0; i < 1000; i++) {
    const sealed = box.seal('same', AAD);
    assert.equal(box.open(sealed, AAD), 'same');
    ivs.add(Buffer.from(sealed.split('.')[2], 'base64url').subarray(0, 12).toString('hex'));
  }
  assert.equal(ivs.size, 1000);
});

test('a ciphertext moved to another row or column does not open', () => {
  const box = new SecretBox(parseMasterKeys(KEY_A));
  const sealed = box.seal('s3cret', AAD);
  for (const other of [
    secretAad('external_oauth_applications', 'client-2', 'client_secret'),
    secretAad('external_oauth_applications', 'client-1', 'other_column'),
    secretAad('oauth_application_user_states', 'client-1', 'client_secret'),
  ]) {
    assert.throws(() => box.open(sealed, other), SecretBoxError);
  }
});

test('tampering, truncation and garbage are refused with SecretBoxError', () => {
  const box = new SecretBox(parseMasterKeys(KEY_A));
  const sealed = box.seal('s3cret', AAD);
  const [version, keyId, payload] = sealed.split('.');
  const bytes = Buffer.from(payload, 'base64url');
  bytes[14] ^= 1;
  const cases = [
    `${version}.${keyId}.${bytes.toString('base64url')}`,
    `${version}.${keyId}.${payload.slice(0, 20)}`,
    `v2.${keyId}.${payload}`,
    `${version}.unknown.${payload}`,
    'plaintext',
    '',
    'v1..',
  ];
  for (const value of cases) assert.throws(() => box.open(value, AAD), SecretBoxError, value);
});

test('rotation: the first key seals, every listed key opens, needsReseal tells old from new', () => {
  const old = new SecretBox(parseMasterKeys(`old:${KEY_A}`));
  const sealedOld = old.seal('s3cret', AAD);
  const rotated = new SecretBox(parseMasterKeys(`new:${KEY_B},old:${KEY_A}`));
  assert.equal(rotated.activeKeyId, 'new');
  assert.deepEqual(rotated.keyIds, ['new', 'old']);
  assert.equal(rotated.open(sealedOld, AAD), 's3cret');
  assert.equal(rotated.needsReseal(sealedOld), true);
  const sealedNew = rotated.seal('s3cret', AAD);
  assert.equal(sealedKeyId(sealedNew), 'new');
  assert.equal(rotated.needsReseal(sealedNew), false);
  // Without the old key the old value cannot be opened, and says which key it needs.
  assert.throws(() => new SecretBox(parseMasterKeys(`new:${KEY_B}`)).open(sealedOld, AAD), /unknown key "old"/);
});

test('an unlabelled key is named by its fingerprint, so the same key always gets the same id', () => {
  const [key] = parseMasterKeys(KEY_A);
  assert.equal(key.id, keyFingerprint(Buffer.from(KEY_A, 'base64')));
  assert.match(key.id, /^k[0-9a-f]{8}$/);
  assert.equal(parseMasterKeys(` ${KEY_A} `)[0].id, key.id);
});

test('parseMasterKeys refuses malformed lists', () => {
  const cases: Array<[string, RegExp]> = [
    ['', /empty/],
    [' , ', /empty/],
    [Buffer.alloc(16).toString('base64'), /#1 is not the base64 encoding of 32 bytes/],
    [`${KEY_A},${Buffer.alloc(31).toString('base64')}`, /#2 is not/],
    [`${KEY_A.slice(0, -2)}!!`, /#1 is not/],
    [`bad.id:${KEY_A}`, /invalid id/],
    [`a:${KEY_A},a:${KEY_B}`, /unique/],
    [`${KEY_A},${KEY_A}`, /unique/],
  ];
  for (const [raw, message] of cases) assert.throws(() => parseMasterKeys(raw), message, raw);
  assert.throws(() => new SecretBox([]), SecretBoxError);
});
