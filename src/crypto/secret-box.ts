import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/**
 * AES-256-GCM sealing of secrets at rest. A sealed value reads `v1.<keyId>.<base64url(iv|ciphertext|tag)>`;
 * the additional authenticated data names the row and column it belongs to, so a ciphertext copied into
 * another row or column fails to open instead of leaking there.
 */
const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
export const KEY_BYTES = 32;
/**
 * IVs are cut from a pool of random bytes: one call into OpenSSL's generator costs about as much for 4 KiB
 * as for 12 bytes (5–10 µs on the bench machines, about a third of a seal), so a pool pays it once
 * per 341 seals. Each IV is still 96 fresh random bits, used once: a slice is never handed out twice, and
 * a spent pool is replaced, not refilled, so an IV already handed out is never overwritten. IVs are
 * public (they lead every sealed value), so holding the next few in memory discloses nothing.
 */
const IV_POOL_BYTES = IV_BYTES * 341;
let ivPool = Buffer.alloc(0);
let ivOffset = 0;

function freshIv(): Buffer {
  if (ivOffset + IV_BYTES > ivPool.length) {
    ivPool = randomBytes(IV_POOL_BYTES);
    ivOffset = 0;
  }
  ivOffset += IV_BYTES;
  return ivPool.subarray(ivOffset - IV_BYTES, ivOffset);
}

export class SecretBoxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretBoxError';
  }
}

interface MasterKey {
  id: string;
  key: Buffer;
}

/** Key ids end up inside every sealed value, so they must not contain the separator. */
const KEY_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** A fingerprint names an unlabelled key, so a value sealed with another key says so when it fails. */
export function keyFingerprint(key: Buffer): string {
  return `k${createHash('sha256').update(key).digest('hex').slice(0, 8)}`;
}

/** Parses `base64key` or `id:base64key,id:base64key,…` (first = active). Throws on any malformed entry. */
export function parseMasterKeys(raw: string): MasterKey[] {
  const entries = raw.split(',').map((s) => s.trim()).filter(Boolean);
  if (entries.length === 0) throw new SecretBoxError('the master key list is empty');
  const keys = entries.map((entry, index) => {
    const colon = entry.indexOf(':');
    const id = colon === -1 ? null : entry.slice(0, colon);
    const encoded = colon === -1 ? entry : entry.slice(colon + 1);
    const key = Buffer.from(encoded, 'base64');
    if (key.length !== KEY_BYTES || key.toString('base64').replace(/=+$/, '') !== encoded.replace(/=+$/, '')) {
      throw new SecretBoxError(`master key #${index + 1} is not the base64 encoding of ${KEY_BYTES} bytes`);
    }
    if (id !== null && !KEY_ID.test(id)) {
      throw new SecretBoxError(`master key #${index + 1} has an invalid id (use letters, digits, _ and -)`);
    }
    return { id: id ?? keyFingerprint(key), key };
  });
  const ids = new Set(keys.map((k) => k.id));
  if (ids.size !== keys.length) throw new SecretBoxError('master key ids must be unique');
  return keys;
}

export class SecretBox {
  private readonly byId: Map<string, Buffer>;
  readonly activeKeyId: string;

  constructor(keys: MasterKey[]) {
    if (keys.length === 0) throw new SecretBoxError('at least one master key is required');
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
    this.activeKeyId = keys[0].id;
  }

  get keyIds(): string[] {
    return [...this.byId.keys()];
  }

  seal(plaintext: string, aad: string): string {
    const key = this.byId.get(this.activeKeyId)!;
    const iv = freshIv();
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(aad, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const payload = Buffer.concat([iv, ciphertext, cipher.getAuthTag()]).toString('base64url');
    return `${VERSION}.${this.activeKeyId}.${payload}`;
  }

  open(sealed: string, aad: string): string {
    const { keyId, payload } = parseSealed(sealed);
    const key = this.byId.get(keyId);
    if (!key) throw new SecretBoxError(`sealed with unknown key "${keyId}"`);
    const bytes = Buffer.from(payload, 'base64url');
    if (bytes.length < IV_BYTES + TAG_BYTES) throw new SecretBoxError('sealed value is truncated');
    const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretBoxError('sealed value does not authenticate (wrong key, wrong row, or tampered)');
    }
  }

  /** True when the value is sealed with a key other than the active one (key rotation uses this). */
  needsReseal(sealed: string): boolean {
    return parseSealed(sealed).keyId !== this.activeKeyId;
  }
}

export function sealedKeyId(sealed: string): string {
  return parseSealed(sealed).keyId;
}

function parseSealed(sealed: string): { keyId: string; payload: string } {
  const parts = sealed.split('.');
  if (parts.length !== 3 || parts[0] !== VERSION) throw new SecretBoxError('not a sealed value');
  return { keyId: parts[1], payload: parts[2] };
}

/** The additional authenticated data of a sealed column: table, row key and column. */
export function secretAad(table: string, rowKey: string, column: string): string {
  return `${table}:${rowKey}:${column}`;
}
