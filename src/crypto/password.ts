import { createHash, randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { availableParallelism } from 'node:os';

/**
 * scrypt hashes for API secrets, stored as `scrypt$N$r$p$<salt b64url>$<hash b64url>`. node's scrypt runs
 * on libuv's thread pool, so a flood of logins does not block the event loop. Verification reads N, r and p
 * from the stored hash, so a hash keeps working whatever cost new ones are made with.
 */
export interface ScryptCost {
  N: number;
  r: number;
  p: number;
}

/** The cost every hash is made with, unless a test app asks for less (server.ts `scryptCost`). */
export const SCRYPT_COST: Readonly<ScryptCost> = { N: 16384, r: 8, p: 1 };
const KEY_LENGTH = 32;

/**
 * Hashes running at once. Off the event loop is not enough on a small machine: libuv's four threads
 * hashing a login flood would take every core from the requests. One core stays free for the event loop,
 * and the rest of a flood waits its turn (each hash also holds 16 MB while it runs).
 */
const MAX_CONCURRENT_HASHES = Math.max(1, availableParallelism() - 1);
let hashing = 0;
const waitingForHash: Array<() => void> = [];

async function scryptAsync(secret: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  if (hashing < MAX_CONCURRENT_HASHES) hashing += 1;
  else await new Promise<void>((resolve) => waitingForHash.push(resolve));
  try {
    return await new Promise((resolve, reject) => {
      scrypt(secret, salt, KEY_LENGTH, { ...options, maxmem: 64 * 1024 * 1024 }, (error, key) =>
        error ? reject(error) : resolve(key),
      );
    });
  } finally {
    // Hand the slot straight to the next waiter, if any.
    const next = waitingForHash.shift();
    if (next) next();
    else hashing -= 1;
  }
}

export async function hashSecret(secret: string, cost: ScryptCost = SCRYPT_COST): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scryptAsync(secret, salt, cost);
  return ['scrypt', cost.N, cost.r, cost.p, salt.toString('base64url'), hash.toString('base64url')].join('$');
}

export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const actual = await scryptAsync(secret, Buffer.from(salt, 'base64url'), { N: Number(n), r: Number(r), p: Number(p) });
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

const decoys = new Map<string, Promise<string>>();

/**
 * A hash to verify against when the client_id is unknown, so both paths take the same time: made with the
 * same cost as the real ones, once per cost. The production cost's is made as this module loads, so the
 * first failed login waits for no extra hash.
 */
export function decoyHash(cost: ScryptCost = SCRYPT_COST): Promise<string> {
  const key = `${cost.N}$${cost.r}$${cost.p}`;
  let decoy = decoys.get(key);
  if (!decoy) decoys.set(key, (decoy = hashSecret(randomBytes(16).toString('hex'), cost)));
  return decoy;
}
void decoyHash();

/** Access tokens are looked up by this digest; the token itself is never stored. */
export function tokenDigest(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** 32 random bytes, URL-safe. */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}
