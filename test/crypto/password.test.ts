import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { hashSecret, newToken, tokenDigest, verifySecret } from '../../src/crypto/password.ts';

test('hashSecret: a salted scrypt hash that verifies only the same secret', async () => {
  const hash = await hashSecret('correct horse battery staple');
  assert.match(hash, /^scrypt\$16384\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
  assert.ok(!hash.includes('correct horse'));
  assert.equal(await verifySecret('correct horse battery staple', hash), true);
  for (const wrong of ['correct horse battery stapl', 'correct horse battery staple ', '', 'CORRECT HORSE BATTERY STAPLE']) {
    assert.equal(await verifySecret(wrong, hash), false, JSON.stringify(wrong));
  }
});

test('hashSecret salts every hash', async () => {
  const [a, b] = await Promise.all([hashSecret('same'), hashSecret('same')]);
  assert.notEqual(a, b);
  assert.equal(await verifySecret('same', a), true);
  assert.equal(await verifySecret('same', b), true);
});

test('verifySecret refuses anything that is not one of its hashes, without throwing', async () => {
  const hash = await hashSecret('s');
  const parts = hash.split('$');
  // One character of the hash changed: its first, whose six bits are all data (the last one's low bits are
  // base64 padding, which the decoder drops, so changing it may change nothing).
  const tampered = `${parts.slice(0, 5).join('$')}$${parts[5].startsWith('A') ? 'B' : 'A'}${parts[5].slice(1)}`;
  for (const stored of ['', 'plain-text-secret', 's', 'bcrypt$10$abc', `scrypt$16384$8$1$${parts[4]}$`, `scrypt$16384$8$1$$${parts[5]}`, tampered]) {
    assert.equal(await verifySecret('s', stored), false, stored);
  }
  // A hash cut short compares by length, not by a crash.
  assert.equal(await verifySecret('s', `${parts.slice(0, 5).join('$')}$${parts[5].slice(0, 10)}`), false);
});

test('newToken: 32 random bytes, URL-safe; tokenDigest: its SHA-256 in hex', () => {
  const tokens = new Set(Array.from({ length: 100 }, () => newToken()));
  assert.equal(tokens.size, 100);
  for (const token of tokens) {
    assert.match(token, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(Buffer.from(token, 'base64url').length, 32);
  }
  const token = [...tokens][0];
  assert.equal(tokenDigest(token), createHash('sha256').update(token).digest('hex'));
  assert.match(tokenDigest(token), /^[0-9a-f]{64}$/);
});
