import type { Caller } from './sessions.ts';
import { noopMetrics, type Metrics } from '../metrics/metrics.ts';

/**
 * A bounded, short-lived, per-process map from access-token digest to caller, so that checking a token
 * costs no database round trip on the hot path.
 *
 * Staleness, written down: an entry lives at most `ttlMs` (and never past the token's own expiry). Changes
 * made through this process (logout, disabling a user, role changes, credentials disabled or deleted, user
 * deleted) drop entries at once; a change made through another instance sharing the database is seen here
 * within `ttlMs`. `ttlMs = 0` turns the cache off, for deployments that need revocation at once everywhere.
 *
 * A lookup that was in flight while an entry was invalidated must not put the revoked caller back: `set`
 * takes the `generation()` read before the database lookup and is ignored if anything was invalidated since.
 *
 * Eviction is least-recently-used by Map insertion order: a hit moves the entry to the end, the oldest
 * entry goes first when the cache is full.
 */
export interface TokenCacheOptions {
  ttlMs: number;
  maxEntries: number;
  /** Injectable clock (milliseconds) for tests; Date.now otherwise. */
  now?: () => number;
  metrics?: Pick<Metrics, 'tokenCache'>;
}

interface Entry {
  caller: Caller;
  expiresAtMs: number;
}

export class TokenCache {
  private readonly entries = new Map<string, Entry>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;
  private readonly metrics: Pick<Metrics, 'tokenCache'>;
  private invalidations = 0;

  constructor(options: TokenCacheOptions) {
    this.ttlMs = options.ttlMs;
    this.maxEntries = options.maxEntries;
    this.now = options.now ?? Date.now;
    this.metrics = options.metrics ?? noopMetrics;
  }

  get enabled(): boolean {
    return this.ttlMs > 0 && this.maxEntries > 0;
  }

  get size(): number {
    return this.entries.size;
  }

  get(tokenHash: string): Caller | null {
    const caller = this.lookup(tokenHash);
    if (this.enabled) this.metrics.tokenCache(caller ? 'hit' : 'miss');
    return caller;
  }

  private lookup(tokenHash: string): Caller | null {
    const entry = this.entries.get(tokenHash);
    if (!entry) return null;
    this.entries.delete(tokenHash);
    if (entry.expiresAtMs <= this.now()) return null;
    this.entries.set(tokenHash, entry);
    return entry.caller;
  }

  /** Read before the database lookup whose result is passed to `set`. */
  generation(): number {
    return this.invalidations;
  }

  /** Remembers a caller until the cache bound or the token's expiry, whichever comes first. */
  set(tokenHash: string, caller: Caller, tokenExpiresAtMs: number, generation: number): void {
    if (!this.enabled || generation !== this.invalidations) return;
    const expiresAtMs = Math.min(this.now() + this.ttlMs, tokenExpiresAtMs);
    if (expiresAtMs <= this.now()) return;
    this.entries.delete(tokenHash);
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(tokenHash, { caller, expiresAtMs });
  }

  delete(tokenHash: string): void {
    this.invalidations += 1;
    this.entries.delete(tokenHash);
  }

  /**
   * Drops everything. Used when a user's or credentials' access changes: those are rare admin actions,
   * and one refill query per live token is cheaper than indexing entries by user and credentials.
   */
  clear(): void {
    this.invalidations += 1;
    this.entries.clear();
  }
}
