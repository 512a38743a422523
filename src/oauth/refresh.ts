import { setTimeout as sleep } from 'node:timers/promises';
import type { TokenStateKey, TokenStateRepository, TokenStateRow } from '../store/token-state-repository.ts';
import type { WriteBatcher } from '../store/write-batcher.ts';
import type { TokenSet } from './outbound.ts';
import { ProviderError, type ProviderErrorCode } from './provider-errors.ts';
import { SingleFlight } from './single-flight.ts';

/**
 * Refresh on read, one refresh per token however many ask.
 *
 * A reader whose access token is good for longer than the margin gets it at once (one SELECT). Otherwise:
 * 1. Readers in one process share one attempt (SingleFlight).
 * 2. That attempt takes the row's refresh lease with a compare-and-set on what it read (version and
 *    lease holder). Across instances on one PostgreSQL exactly one attempt wins; the others poll the row,
 *    with bounded waits, until the winner stores its result, records a failure, or its lease runs out.
 * 3. The winner calls the provider with no transaction open, then stores the new tokens (the rotated
 *    refresh token included), bumps the version and drops the lease in one compare-and-set statement,
 *    committed before anyone is handed the new access token. A spent refresh token is therefore never
 *    sent twice: the provider would take that as a replay and revoke the whole grant.
 *
 * The lease outlives the longest provider call (both secrets tried, each up to the timeout), so it only
 * runs out when its holder died. Whoever then takes it over retries with the stored refresh token: if the
 * dead holder's call never reached the provider, that just works; if the provider had already rotated the
 * token, the retry is refused as `invalid_grant` and the state becomes `needs_reauth` with the reason
 * `refresh_interrupted` (docs/tokens.md): the user connects again.
 */

export interface FreshToken {
  access_token: string;
  token_type: string;
  expires_at: string;
  scope: string | null;
}

/** Why a state needs its user to connect again; stored in `last_error`, shown in the status. */
export type ReauthReason = 'invalid_grant' | 'no_refresh_token' | 'refresh_token_expired' | 'refresh_interrupted';

/** The user must connect again (authorization code flow): refreshing cannot help. */
export class NeedsReauth extends Error {
  constructor(readonly reason: ReauthReason) {
    super(`needs_reauth: ${reason}`);
    this.name = 'NeedsReauth';
  }
}

/** The provider failed (or was busy with another instance's refresh past the wait): try again later. */
export class RefreshUnavailable extends Error {
  constructor(
    readonly code: ProviderErrorCode | 'busy',
    readonly retryAfterS: number,
  ) {
    super(`refresh unavailable: ${code}`);
    this.name = 'RefreshUnavailable';
  }
}

/** The state was deleted while it was being read or refreshed. */
export class StateGone extends Error {
  constructor() {
    super('user state gone');
    this.name = 'StateGone';
  }
}

/** Provider failures that say nothing about the user's grant: the tokens stay, callers back off. */
const PROVIDER_FAILURES = new Set<string>(['unreachable', 'timeout', 'server_error', 'invalid_client', 'rejected', 'malformed', 'access_denied']);

export type TokenColumn = 'access_token' | 'refresh_token';

interface RefresherOptions {
  states: TokenStateRepository;
  writes: WriteBatcher;
  seal(value: string, key: TokenStateKey, column: TokenColumn): string;
  open(sealed: string, key: TokenStateKey, column: TokenColumn): string;
  /** Names this process in lease holders, so a log or a row says whose lease it was. */
  instanceId: string;
  /** Refresh when the access token expires within this many ms. */
  marginMs: number;
  /** How long a lease lasts: longer than the longest provider call. */
  leaseMs: number;
  /** How long callers are answered "retry later" after a provider failure, without asking it again. */
  backoffMs: number;
  /** Lifetime assumed for an access token whose response gave no `expires_in`. */
  defaultLifetimeS?: number;
}

/** The call to the provider's token endpoint (secret fallback included), for one refresh token. */
type RefreshCall = (refreshToken: string) => Promise<TokenSet>;

/**
 * Reads what the call needs (the application, its provider) and hands back the call. It is started as the
 * lease is asked for, not after it is won: both wait for a database connection, behind every other
 * request's query in a burst, and neither needs the other. A lease not won wastes that one read.
 */
type PrepareRefresh = () => Promise<RefreshCall>;

const DEFAULT_LIFETIME_S = 300;
const FIRST_POLL_MS = 20;
const LONGEST_POLL_MS = 250;

export function tokenRefresher(options: RefresherOptions) {
  const flights = new SingleFlight<FreshToken>();
  let leases = 0;
  const { states, writes } = options;

  const expiresIn = (iso: string | null, now: number) => (iso === null ? Number.POSITIVE_INFINITY : Date.parse(iso) - now);

  function present(row: TokenStateRow): FreshToken {
    return {
      access_token: options.open(row.access_token_sealed, row, 'access_token'),
      token_type: row.token_type ?? 'Bearer',
      expires_at: row.access_token_expires_at,
      scope: row.scope,
    };
  }

  /** Good to hand out without asking anyone: active and not expiring within the margin. */
  const fresh = (row: TokenStateRow, now: number) => row.status === 'active' && expiresIn(row.access_token_expires_at, now) > options.marginMs;

  const retryAfterS = (row: TokenStateRow, now: number) => Math.max(1, Math.ceil((Date.parse(row.retry_at!) - now) / 1000));

  /** A failure recorded by whoever refreshed last, still inside its back-off window. */
  const backingOff = (row: TokenStateRow, now: number) =>
    row.retry_at !== null && row.last_error !== null && PROVIDER_FAILURES.has(row.last_error) && Date.parse(row.retry_at) > now;

  /** Nothing to refresh with: no refresh token, or one past its known expiry. */
  function unrefreshable(row: TokenStateRow, now: number): ReauthReason | null {
    if (row.refresh_token_sealed === null) return 'no_refresh_token';
    if (expiresIn(row.refresh_token_expires_at, now) <= 0) return 'refresh_token_expired';
    return null;
  }

  /** The lease holder's side: one call to the provider, then one compare-and-set with its outcome. */
  async function refreshAsHolder(row: TokenStateRow, owner: string, takenOver: boolean, prepared: Promise<RefreshCall>): Promise<FreshToken | null> {
    let tokens: TokenSet;
    try {
      const call = await prepared;
      tokens = await call(options.open(row.refresh_token_sealed!, row, 'refresh_token'));
    } catch (error) {
      if (!(error instanceof ProviderError)) {
        await writes.run((tx) => states.releaseLease(row, owner, tx));
        throw error;
      }
      if (error.code === 'invalid_grant') {
        const reason: ReauthReason = takenOver ? 'refresh_interrupted' : 'invalid_grant';
        await writes.run((tx) => states.recordFailure(row, owner, { status: 'needs_reauth', last_error: reason, retry_at: null }, tx));
        throw new NeedsReauth(reason);
      }
      const retryAt = new Date(Date.now() + options.backoffMs).toISOString();
      await writes.run((tx) => states.recordFailure(row, owner, { status: 'active', last_error: error.code, retry_at: retryAt }, tx));
      throw new RefreshUnavailable(error.code, Math.ceil(options.backoffMs / 1000));
    }

    const now = Date.now();
    const key = { user_id: row.user_id, oauth_application_id: row.oauth_application_id };
    const stored = {
      access_token_sealed: options.seal(tokens.access_token, key, 'access_token'),
      access_token_expires_at: new Date(now + (tokens.expires_in ?? options.defaultLifetimeS ?? DEFAULT_LIFETIME_S) * 1000).toISOString(),
      refresh_token_sealed: tokens.refresh_token === undefined ? null : options.seal(tokens.refresh_token, key, 'refresh_token'),
      refresh_token_expires_at:
        tokens.refresh_token_expires_in === undefined ? null : new Date(now + tokens.refresh_token_expires_in * 1000).toISOString(),
      token_type: tokens.token_type,
      scope: tokens.scope ?? null,
    };
    // Committed before the caller (or anyone) sees the new access token.
    if (!(await writes.run((tx) => states.storeRefreshed(key, owner, row.version, stored, tx)))) {
      // The state was reconnected or deleted meanwhile (or the lease was lost): that newer state wins.
      return null;
    }
    return {
      access_token: tokens.access_token,
      token_type: tokens.token_type,
      expires_at: stored.access_token_expires_at,
      scope: tokens.scope ?? row.scope,
    };
  }

  /** One process's attempt: take the lease or wait for whoever has it, until there is an answer. */
  async function attempt(read: TokenStateRow, prepare: PrepareRefresh): Promise<FreshToken> {
    const key = { user_id: read.user_id, oauth_application_id: read.oauth_application_id };
    const deadline = Date.now() + options.leaseMs + 5000;
    let seenVersion: string | null = null;
    let pollMs = FIRST_POLL_MS;
    // The caller's own read starts the first round: reading the row again would only queue another query
    // (behind every other request's, in a burst) before the lease. It may be stale: the compare-and-set
    // on it then fails, and a lease it shows held may be gone already; either way the next round reads
    // the row afresh, at once.
    let known: TokenStateRow | null = read;
    while (Date.now() < deadline) {
      const fromCaller = known !== null;
      const row = known ?? (await states.find(key));
      known = null;
      if (!row) throw new StateGone();
      const now = Date.now();
      seenVersion ??= row.version;
      if (row.status === 'needs_reauth') throw new NeedsReauth((row.last_error as ReauthReason | null) ?? 'invalid_grant');
      // Someone refreshed while this attempt waited: theirs is the answer, even if its lifetime is shorter
      // than the margin (refreshing it again would only spend another refresh token).
      if (fresh(row, now) || (row.version !== seenVersion && expiresIn(row.access_token_expires_at, now) > 0)) return present(row);
      if (backingOff(row, now)) {
        // The provider failed a moment ago: a token that has not yet expired still works, so hand it out.
        if (expiresIn(row.access_token_expires_at, now) > 0) return present(row);
        throw new RefreshUnavailable(row.last_error as ProviderErrorCode, retryAfterS(row, now));
      }
      const leaseFree = row.lease_owner === null || Date.parse(row.lease_expires_at ?? '') <= now;
      if (leaseFree) {
        const reason = unrefreshable(row, now);
        if (reason !== null) {
          // Nothing to refresh with: the token serves until it expires, then the user must connect again.
          if (expiresIn(row.access_token_expires_at, now) > 0) return present(row);
          if (await writes.run((tx) => states.markNeedsReauth(row, reason, tx))) throw new NeedsReauth(reason);
          continue;
        }
        const owner = `${options.instanceId}:${(leases += 1)}`;
        const until = new Date(now + options.leaseMs).toISOString();
        const prepared = prepare();
        // Awaited only by the lease's holder; a lease not won must not leave its failure unhandled.
        prepared.catch(() => {});
        const leased = await writes.run((tx) => states.acquireLease(row, owner, until, tx));
        if (leased) {
          let result: FreshToken | null;
          try {
            result = await refreshAsHolder(row, owner, row.lease_owner !== null, prepared);
          } catch (error) {
            // As for those who come later: a token that has not yet expired still works.
            if (error instanceof RefreshUnavailable && expiresIn(row.access_token_expires_at, Date.now()) > 0) return present(row);
            throw error;
          }
          if (result) return result;
          seenVersion = null;
        }
        continue;
      }
      if (fromCaller) continue;
      await sleep(pollMs);
      pollMs = Math.min(LONGEST_POLL_MS, pollMs * 2);
    }
    throw new RefreshUnavailable('busy', 1);
  }

  return {
    /**
     * The access token of the state just read, refreshed first if it expires within the margin. Throws
     * NeedsReauth, RefreshUnavailable or StateGone.
     */
    async freshToken(row: TokenStateRow, prepare: PrepareRefresh): Promise<FreshToken> {
      if (fresh(row, Date.now())) return present(row);
      return flights.run(`${row.user_id}:${row.oauth_application_id}`, () => attempt(row, prepare));
    },

    /** Refreshes in flight in this process, for tests. */
    get inFlight() {
      return flights.size;
    },
  };
}
