import pg from 'pg';
import { PostgresAdapter, sql } from 'kysely';
import type { Db } from './schema.ts';

/**
 * Authentication changes, told to every instance sharing a PostgreSQL database, so that each can keep a
 * cache of checked tokens and still refuse a revoked one at once (services/token-cache.ts).
 *
 * Why NOTIFY and not Redis pub/sub: a NOTIFY is part of the transaction that sends it. It is delivered
 * only if that transaction commits, after the commit, and never lost between the commit and a publish that
 * a crash could skip. Every instance has the database; not every one has Redis.
 */
export const AUTH_CHANNEL = 'eoa_auth_changes';
/** The payload for "anything may have changed": every cached token is dropped. */
const ANY_TOKEN = '*';
/** How the listening connection shows in pg_stat_activity (and how the tests find it). */
export const LISTENER_APPLICATION_NAME = 'eoa-auth-listener';

/**
 * Inside the transaction of a write that can change who a token authenticates as, or whether it does:
 * `tokenHash` for one session ended, nothing for anything wider (a user, credentials, roles). PostgreSQL
 * folds identical notifications of one transaction into one. On SQLite there is only this process, and
 * the services drop cache entries themselves once the write has committed.
 */
export async function notifyAuthChange(tx: Db, tokenHash: string = ANY_TOKEN): Promise<void> {
  if (!(tx.getExecutor().adapter instanceof PostgresAdapter)) return;
  await sql`select pg_notify(${AUTH_CHANNEL}, ${tokenHash})`.execute(tx);
}

/** What the listener drives: a token cache. */
interface AuthChangeTarget {
  invalidate(payload: string): void;
  /** Changes may go unheard: empty and pass through to the database. */
  suspend(): void;
  /** Changes are heard again. */
  resume(): void;
}

interface ListenerLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

interface AuthListener {
  readonly listening: boolean;
  /** Resolves true once listening, or false after `timeoutMs` without (the cache passes through meanwhile). */
  whenListening(timeoutMs: number): Promise<boolean>;
  /**
   * True once every notification committed before the call has reached this instance: PostgreSQL hands a
   * session its pending notifications before it answers a statement, so one round trip on the listening
   * connection is the fence. Those notifications were queued for every listening session at the same
   * commit. Calls made while a trip is on the wire share the next one. False at once when not listening,
   * and false when the connection does not answer within `answerMs`: then it is given up like a lost one
   * (the target is suspended until a new one listens), since a backend that does not answer does not
   * deliver notifications either.
   */
  sync(): Promise<boolean>;
  close(): Promise<void>;
}

interface AuthListenerOptions {
  log?: ListenerLog;
  /** First delay before reconnecting (1 s: a lost listener usually means a restarting server); doubled per failed attempt up to 5 s. */
  retryMs?: number;
  /** How often the connection is proved alive (1 s). */
  heartbeatMs?: number;
  /** How long a `sync` or a heartbeat waits for an answer before the connection is given up (1 s). */
  answerMs?: number;
}

const MAX_RETRY_MS = 5_000;

/**
 * Listens on its own connection (a pooled one could not: LISTEN belongs to a session). The target is
 * suspended from the start and whenever that connection is lost (an error, the server ending it, a
 * heartbeat or a `sync` without answer), since notifications sent meanwhile reach nobody; it resumes only
 * once LISTEN is in force again, so every change committed after that is heard and every one before it is
 * in the database the next lookups read.
 *
 * A backend that stops answering without closing its socket (stopped, or a network cut without FIN or RST)
 * is the case the heartbeat is for: until it is given up, reads keep answering from the cache and hear no
 * revocation. Every `heartbeatMs` a round trip that must come back within `answerMs` bounds that to about
 * their sum, 2 s by default, for one cheap statement a second per instance. Writes do not wait for it:
 * they `sync` first (services/token-cache.ts).
 */
export function listenForAuthChanges(connectionString: string, target: AuthChangeTarget, options: AuthListenerOptions = {}): AuthListener {
  const retryMs = options.retryMs ?? 1_000;
  const heartbeatMs = options.heartbeatMs ?? 1_000;
  const answerMs = options.answerMs ?? 1_000;
  /** The connection listening right now, and how to give it up. */
  let live: { client: pg.Client; lost: (error?: unknown) => void } | null = null;
  let client: pg.Client | null = null;
  let closed = false;
  let failures = 0;
  let retryTimer: NodeJS.Timeout | undefined;
  let heartbeatTimer: NodeJS.Timeout | undefined;
  let heard: () => void = () => {};
  const firstListen = new Promise<void>((resolve) => (heard = resolve));
  target.suspend();

  async function connect(): Promise<void> {
    if (closed) return;
    const current = new pg.Client({ connectionString, application_name: LISTENER_APPLICATION_NAME, keepAlive: true });
    client = current;
    let gone = false;
    const lost = (error?: unknown) => {
      if (gone) return;
      gone = true;
      const wasListening = live !== null;
      live = null;
      target.suspend();
      clearInterval(heartbeatTimer);
      if (client === current) client = null;
      current.end().catch(() => {});
      if (closed) return;
      if (wasListening || failures === 0) {
        options.log?.warn({ message: error instanceof Error ? error.message : 'connection ended' }, 'token cache suspended: the connection that hears revocations was lost; checking every token in the database until it is back');
      }
      retryTimer = setTimeout(() => void connect(), Math.min(retryMs * 2 ** failures, MAX_RETRY_MS));
      failures += 1;
    };
    current.on('error', lost);
    current.on('end', () => lost());
    current.on('notification', (message) => {
      if (message.channel === AUTH_CHANNEL) target.invalidate(message.payload ?? ANY_TOKEN);
    });
    let backendPid: number;
    try {
      await current.connect();
      await current.query(`listen ${AUTH_CHANNEL}`);
      // Logged, so that an operator (or a test) can find this connection's backend in pg_stat_activity.
      backendPid = (await current.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0].pid;
    } catch (error) {
      lost(error);
      return;
    }
    if (gone || closed) return;
    live = { client: current, lost };
    failures = 0;
    target.resume();
    heard();
    options.log?.info({ channel: AUTH_CHANNEL, backendPid }, 'token cache on: listening for revocations');
    heartbeatTimer = setInterval(() => void answers(current, lost), heartbeatMs).unref();
  }

  /**
   * One round trip on the listening connection. One that fails or stays silent for `answerMs` is given up:
   * a backend that does not answer does not deliver notifications either, and a cut without FIN or RST
   * would otherwise look alive forever. The verdict waits for one pass of the event loop's I/O after the
   * timer (`setImmediate`), so an answer that arrived while this process was busy is still read first.
   */
  async function answers(current: pg.Client, lost: (error?: unknown) => void): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const silence = new Promise<never>((_, reject) => {
      const giveUp = () => reject(new Error(`no answer within ${answerMs} ms`));
      timer = setTimeout(() => setImmediate(giveUp), answerMs);
    });
    try {
      await Promise.race([current.query('select 1'), silence]);
      return true;
    } catch (error) {
      lost(error);
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  /** `sync`'s round trip on the wire (if any), and the one that callers arriving meanwhile share. */
  let sent: Promise<boolean> | null = null;
  let queued: Promise<boolean> | null = null;

  function roundTrip(): Promise<boolean> {
    const trip = live === null ? Promise.resolve(false) : answers(live.client, live.lost);
    sent = trip;
    void trip.finally(() => {
      if (sent === trip) sent = null;
    });
    return trip;
  }

  void connect();
  return {
    get listening() {
      return live !== null;
    },
    async whenListening(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
      const result = await Promise.race([firstListen.then(() => live !== null), late]);
      clearTimeout(timer);
      return result;
    },
    sync() {
      if (live === null) return Promise.resolve(false);
      if (sent === null) return roundTrip();
      // The trip on the wire may have left before this call: wait for the next one, shared by every caller
      // that arrives meanwhile, so that concurrent writes cost one trip between them and not one each.
      queued ??= sent.then(() => {
        queued = null;
        return roundTrip();
      });
      return queued;
    },
    async close() {
      closed = true;
      clearTimeout(retryTimer);
      clearInterval(heartbeatTimer);
      live = null;
      const current = client;
      client = null;
      await current?.end().catch(() => {});
    },
  };
}
