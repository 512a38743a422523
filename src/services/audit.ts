import type { Db } from '../store/schema.ts';
import type { Repositories } from '../store/repositories.ts';
import type { AuditEventFilter, AuditEventRecord } from '../store/audit-events-repository.ts';
import type { WriteBatcher } from '../store/write-batcher.ts';
import { nowIso } from '../store/values.ts';
import { currentRequestContext, type Actor } from './request-context.ts';

/**
 * The closed list of audit actions, each with the type of thing it acts on. Adding an event type is one
 * line here (the API's schema enumerates this list), then `audit.record(tx, { action, targetId })` in
 * the same transaction as the change. Target ids: applications by client_id, users and credentials by id,
 * a user state as `<user_id>/<client_id>`.
 */
export const AUDIT_ACTIONS = {
  'external_oauth_application.create': 'external_oauth_application',
  'external_oauth_application.update': 'external_oauth_application',
  'external_oauth_application.rotate_secret': 'external_oauth_application',
  'external_oauth_application.delete': 'external_oauth_application',
  'user_state.set': 'user_state',
  'user_state.delete': 'user_state',
  // The OAuth broker: a user's tokens obtained at the provider, and every time they are handed out.
  'user_state.connect': 'user_state',
  'user_state.read_token': 'user_state',
  'user.create': 'user',
  'user.update': 'user',
  'user.delete': 'user',
  'user.set_roles': 'user',
  'credentials_api3.create': 'credentials_api3',
  'credentials_api3.update': 'credentials_api3',
  'credentials_api3.delete': 'credentials_api3',
  'session.login': 'credentials_api3',
  'session.login_failures': 'credentials_api3',
  'session.login_user': 'user',
  'session.logout': 'user',
} as const;

type AuditAction = keyof typeof AUDIT_ACTIONS;
type AuditOutcome = 'success' | 'failure';

/** What an event may say beyond its columns: names and counts, never a value someone sent. */
interface AuditDetail {
  /** The fields a change set (their names only). */
  fields?: string[];
  role_ids?: string[];
  /** Failed logins a summary event stands for, and the window they fell in. */
  count?: number;
  window_s?: number;
}

export interface AuditEventInput {
  action: AuditAction;
  targetId: string | null;
  /** 'success' unless said otherwise: a change is recorded when it happens. */
  outcome?: AuditOutcome;
  detail?: AuditDetail;
  /** Who acted, when the request context does not know yet (a login acts as the user it logs in). */
  actor?: Actor | null;
}

/** An event as the service hands it out: the stored row, its detail parsed. */
export type AuditEvent = Omit<AuditEventRecord, 'detail'> & { detail: AuditDetail | null };


/** Rows per query when a page is streamed: memory stays flat whatever `limit` is. */
const STREAM_PAGE = 500;
/** Oldest rows looked at per statement of the retention purge, and statements per run: no purge holds a lock for long. */
const PURGE_BATCH = 1000;
const PURGE_MAX_BATCHES = 100;

interface AuditOptions {
  retentionDays: number;
  /** Failed logins: individual events per client_id per window before they are only counted. */
  failedLoginEvents: number;
  failedLoginWindowS: number;
  /** Told when a failed-login event, written in the background, could not be written. */
  onBackgroundError?: (error: unknown) => void;
}

export function auditService(repos: Repositories, writes: WriteBatcher, options: AuditOptions) {
  /** Writes one event with `tx`: call it inside the transaction (or group-commit write) of the change. */
  async function record(tx: Db, input: AuditEventInput): Promise<void> {
    const context = currentRequestContext();
    const actor = input.actor !== undefined ? input.actor : (context?.actor ?? null);
    await repos.auditEvents.insert(
      {
        occurred_at: nowIso(),
        actor_user_id: actor?.userId ?? null,
        principal_user_id: actor?.principalUserId ?? null,
        address: context?.address ?? null,
        request_id: context?.requestId ?? null,
        action: input.action,
        target_type: AUDIT_ACTIONS[input.action],
        target_id: input.targetId,
        outcome: input.outcome ?? 'success',
        detail: input.detail ? JSON.stringify(input.detail) : null,
      },
      tx,
    );
  }

  const failedLogins = new FailedLoginTally(options.failedLoginEvents, options.failedLoginWindowS * 1000);
  const pending = new Set<Promise<void>>();

  /** Failed-login events are written without holding up the answer (see loginFailed); tracked until done. */
  function inBackground(work: Promise<void>) {
    const done: Promise<void> = work
      .catch((error) => options.onBackgroundError?.(error))
      .finally(() => pending.delete(done));
    pending.add(done);
  }

  async function writeSummaries(summaries: FailedLoginSummary[]) {
    if (summaries.length === 0) return;
    await writes.run(async (tx) => {
      for (const s of summaries) {
        await record(tx, {
          action: 'session.login_failures',
          targetId: s.credentialsId,
          outcome: 'failure',
          actor: null,
          detail: { count: s.count, window_s: options.failedLoginWindowS },
        });
      }
    });
  }

  return {
    record,

    /**
     * A failed login: an event of its own for the first few per client_id per window, then only counted,
     * and the count written as one `session.login_failures` event when the window ends (see FailedLoginTally).
     * `credentialsId` is null when the client_id names no credentials: what was typed is never stored (it
     * may be a secret pasted into the wrong field), and all such failures share one count.
     *
     * Written in the background, not awaited: whether a write happens depends on the client_id's tally, and
     * a 404 that took an fsync longer would tell an attacker that a client_id exists. A failure changes
     * nothing, so there is no change for its event to share a transaction with.
     */
    loginFailed(credentialsId: string | null): void {
      const { individual, summaries } = failedLogins.fail(credentialsId, Date.now());
      inBackground(writeSummaries(summaries));
      if (individual) inBackground(writes.run((tx) => record(tx, { action: 'session.login', targetId: credentialsId, outcome: 'failure', actor: null })));
    },

    /**
     * Waits for failed-login events in flight, then writes the summaries of windows that have ended;
     * `all` also those still open (at shutdown).
     */
    async flushFailedLogins(all = false): Promise<void> {
      while (pending.size > 0) await Promise.all(pending);
      await writeSummaries(failedLogins.drain(Date.now(), all));
    },

    /**
     * A page of events, newest first, matching `filter`, at most `limit`, streamed a bounded page of rows
     * at a time. Resolves once the first rows are read (a failing database is a plain error, not a cut
     * response); `nextCursor()` is the cursor of the following page once the stream has ended, or null
     * when there is none.
     */
    async page(filter: AuditEventFilter, limit: number) {
      const firstRows = await repos.auditEvents.list(filter, Math.min(STREAM_PAGE, limit) + 1);
      let next: string | null = null;
      async function* events(): AsyncGenerator<AuditEvent> {
        let rows = firstRows;
        let remaining = limit;
        for (;;) {
          const wanted = Math.min(STREAM_PAGE, remaining);
          for (const row of rows.slice(0, wanted)) yield present(row);
          remaining -= Math.min(rows.length, wanted);
          // One row past what was wanted says whether anything is left.
          if (rows.length <= wanted) return;
          const last = rows[wanted - 1].id;
          if (remaining === 0) {
            next = encodeCursor(last);
            return;
          }
          rows = await repos.auditEvents.list({ ...filter, before_id: last }, Math.min(STREAM_PAGE, remaining) + 1);
        }
      }
      return { events: events(), nextCursor: () => next };
    },

    /** Deletes events older than the retention, in bounded batches; returns how many went. */
    async purgeExpired(now = Date.now()): Promise<number> {
      if (options.retentionDays === 0) return 0;
      const cutoff = new Date(now - options.retentionDays * 86_400_000).toISOString();
      let purged = 0;
      for (let batch = 0; batch < PURGE_MAX_BATCHES; batch += 1) {
        const deleted = await repos.auditEvents.purgeBefore(cutoff, PURGE_BATCH);
        purged += deleted;
        // Ids follow time, so the oldest ids are the expired ones; a few young rows among them (ids are
        // assigned at insert, a moment after the time is read) only make a batch smaller.
        if (deleted === 0) break;
      }
      return purged;
    },
  };
}

export type AuditService = ReturnType<typeof auditService>;

function present(row: AuditEventRecord): AuditEvent {
  return { ...row, detail: row.detail === null ? null : (JSON.parse(row.detail) as AuditDetail) };
}

/** Opaque to clients: a version tag and the id of the last event seen. */
export function encodeCursor(lastId: string): string {
  return Buffer.from(`a1:${lastId}`).toString('base64url');
}

/** The id a cursor continues before, or null when it is not one of ours. */
export function decodeCursor(cursor: string): string | null {
  const match = /^a1:(\d{1,18})$/.exec(Buffer.from(cursor, 'base64url').toString());
  return match ? match[1] : null;
}

interface FailedLoginSummary {
  credentialsId: string | null;
  count: number;
}

/** Beyond this many client_ids in one window, failures share one count: memory stays bounded. */
const MAX_TALLIES = 10_000;
const OVERFLOW = '\u0000overflow';
const UNKNOWN = '\u0000unknown';

/**
 * Failed logins, counted per client_id per window, so a password spray cannot flood the audit log: the
 * first `individual` failures of a client_id in a window are events of their own (with the address and
 * request id, which is what an investigation starts from); the rest are counted, and one summary event
 * with the count is written when the window ends. Rows per window are thus bounded by
 * (individual + 1) × (credentials under attack + 1), whatever the rate of guesses: unknown client_ids
 * all share one tally, and past MAX_TALLIES tallies the rest share one more. The window is the login
 * guard's, which blocks a client_id after EOA_LOGIN_GUARD_MAX failures anyway. Counts are per process:
 * N instances write up to N summaries for one window. A window is closed lazily (at the next failure
 * of that client_id) or by the periodic flush, and at shutdown.
 */
export class FailedLoginTally {
  private readonly tallies = new Map<string, { credentialsId: string | null; startMs: number; seen: number }>();

  constructor(
    private readonly individual: number,
    private readonly windowMs: number,
  ) {}

  fail(credentialsId: string | null, nowMs: number): { individual: boolean; summaries: FailedLoginSummary[] } {
    let key = credentialsId ?? UNKNOWN;
    const summaries: FailedLoginSummary[] = [];
    let tally = this.tallies.get(key);
    if (tally && nowMs - tally.startMs >= this.windowMs) {
      const summary = this.summaryOf(tally);
      if (summary) summaries.push(summary);
      this.tallies.delete(key);
      tally = undefined;
    }
    if (!tally) {
      if (this.tallies.size >= MAX_TALLIES) {
        key = OVERFLOW;
        tally = this.tallies.get(key);
      }
      if (!tally) {
        tally = { credentialsId: key === OVERFLOW ? null : credentialsId, startMs: nowMs, seen: 0 };
        this.tallies.set(key, tally);
      }
    }
    tally.seen += 1;
    return { individual: tally.seen <= this.individual, summaries };
  }

  /** Summaries of the windows that have ended (all windows with `all`), forgetting them. */
  drain(nowMs: number, all: boolean): FailedLoginSummary[] {
    const summaries: FailedLoginSummary[] = [];
    for (const [key, tally] of this.tallies) {
      if (!all && nowMs - tally.startMs < this.windowMs) continue;
      const summary = this.summaryOf(tally);
      if (summary) summaries.push(summary);
      this.tallies.delete(key);
    }
    return summaries;
  }

  /** Only failures that were not events of their own need a summary. */
  private summaryOf(tally: { credentialsId: string | null; seen: number }): FailedLoginSummary | null {
    const counted = tally.seen - this.individual;
    return counted > 0 ? { credentialsId: tally.credentialsId, count: counted } : null;
  }
}
