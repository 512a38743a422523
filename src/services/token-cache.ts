import type { Caller } from './sessions.ts';
import { noopMetrics, type Metrics } from '../metrics/metrics.ts';

/**
 * A bounded, per-process map from access-token digest to caller, so that checking a token costs no
 * database round trip on the hot path, and yet revocation stays exact.
 *
 * Exact, written down: every write that can change the answer for a token (logout, a user disabled or
 * deleted, a role change, credentials disabled or deleted, a `login/{user_id}` holder demoted) drops
 * entries here at once, in the process that made it, and in every other instance through the database:
 * on PostgreSQL the write sends a NOTIFY in its own transaction (store/notifications.ts), so a committed
 * change reaches every listening instance within the notification's delivery time and a rolled-back one
 * reaches none. While an instance cannot be sure to hear of changes (its listening connection is down, or
 * not up yet), its cache is `suspend`ed: emptied and passed through to the database until `resume`. On
 * SQLite there is one process, and the services drop entries themselves after each such write commits.
 * Only a change made behind the service's back (SQL typed by hand) goes unseen, until `ttlMs` at most.
 *
 * "Within the notification's delivery time" is a window: an instance serves a hit until it has read the
 * notification from its socket. Reads (`get`) keep that window of milliseconds, so that they cost no round
 * trip; a request that changes state takes `getFenced` instead, which first waits until every change
 * committed before it has been heard, so no write goes through on a token already revoked elsewhere.
 *
 * An entry lives at most `ttlMs` (and never past the token's own expiry); `ttlMs = 0` turns the cache off.
 *
 * A lookup that was in flight while an entry was invalidated must not put the revoked caller back: `set`
 * takes the `generation()` read before the database lookup and is ignored if anything was invalidated since.
 *
 * Eviction is least-recently-used by Map insertion order: a hit moves the entry to the end, the oldest
 * entry goes first when the cache is full.
 */
interface TokenCacheOptions {
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
  private suspended = false;
  private fence: () => Promise<boolean> = async () => true;

  constructor(options: TokenCacheOptions) {
    this.ttlMs = options.ttlMs;
    this.maxEntries = options.maxEntries;
    this.now = options.now ?? Date.now;
    this.metrics = options.metrics ?? noopMetrics;
  }

  /** Configured on (a bound above zero); it may still be suspended for a while. */
  get enabled(): boolean {
    return this.ttlMs > 0 && this.maxEntries > 0;
  }

  /** Answering from memory right now: enabled and not suspended. */
  get active(): boolean {
    return this.enabled && !this.suspended;
  }

  get size(): number {
    return this.entries.size;
  }

  get(tokenHash: string): Caller | null {
    if (!this.enabled) return null;
    // While suspended every lookup is a miss: the database answers.
    const caller = this.suspended ? null : this.lookup(tokenHash);
    this.metrics.tokenCache(caller ? 'hit' : 'miss');
    return caller;
  }

  /**
   * For a request that changes state: a hit counts only after the `fence` (useFence) has proved that every
   * change committed before this call has been heard here, and if the entry survived it (an invalidation
   * heard meanwhile dropped it: the database answers). A fence that could not prove it (the listening
   * connection did not answer, and was given up) trusts nothing: a miss. Only hits pay the round trip; a
   * miss is looked up in the database anyway.
   */
  async getFenced(tokenHash: string): Promise<Caller | null> {
    if (!this.enabled) return null;
    let caller = this.suspended ? null : this.lookup(tokenHash);
    if (caller) caller = (await this.fence()) && !this.suspended ? this.lookup(tokenHash) : null;
    this.metrics.tokenCache(caller ? 'hit' : 'miss');
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
    if (!this.active || generation !== this.invalidations) return;
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

  /**
   * After a write that revoked access has committed: drops the token (or, without one, every token) here,
   * and resolves once this instance has heard the write's own notification (`useFence`), by which time
   * PostgreSQL has queued it for every instance. The write is acknowledged after that.
   */
  async revoke(tokenHash?: string): Promise<void> {
    if (tokenHash === undefined) this.clear();
    else this.delete(tokenHash);
    await this.fence();
  }

  /**
   * The listener's `sync` (store/notifications.ts): true once every change committed before the call has
   * been heard. On SQLite there is nothing to wait for.
   */
  useFence(fence: () => Promise<boolean>): void {
    this.fence = fence;
  }

  /**
   * What a change notification says (store/notifications.ts): one token's digest, or `*` for "anything may
   * have changed". Anything else is treated as `*`: dropping too much is only a refill.
   */
  invalidate(payload: string): void {
    if (/^[0-9a-f]{64}$/.test(payload)) this.delete(payload);
    else this.clear();
  }

  /**
   * Changes may go unheard from now on: drop everything and answer from the database until `resume`. The
   * generation moves, so a lookup that started before cannot fill the cache after either call.
   */
  suspend(): void {
    this.suspended = true;
    this.clear();
  }

  /** Changes are heard again (the listener is back): lookups made from now on see every later change. */
  resume(): void {
    this.clear();
    this.suspended = false;
  }
}
