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
   * Resolves once every notification committed before the call has reached this instance: PostgreSQL
   * hands a session its pending notifications before it answers a statement, so one round trip on the
   * listening connection is the fence. Those notifications were queued for every listening session at the
   * same commit. Resolves at once when not listening, and gives up after a second.
   */
  sync(): Promise<void>;
  close(): Promise<void>;
}

interface AuthListenerOptions {
  log?: ListenerLog;
  /** First delay before reconnecting (1 s: a lost listener usually means a restarting server); doubled per failed attempt up to 5 s. */
  retryMs?: number;
  /** How often the connection is proved alive; one that does not answer within this is given up. */
  heartbeatMs?: number;
}

const MAX_RETRY_MS = 5_000;

/**
 * Listens on its own connection (a pooled one could not: LISTEN belongs to a session). The target is
 * suspended from the start and whenever that connection is lost (an error, the server ending it, a
 * heartbeat without answer), since notifications sent meanwhile reach nobody; it resumes only once LISTEN
 * is in force again, so every change committed after that is heard and every one before it is in the
 * database the next lookups read.
 */
export function listenForAuthChanges(connectionString: string, target: AuthChangeTarget, options: AuthListenerOptions = {}): AuthListener {
  const retryMs = options.retryMs ?? 1_000;
  const heartbeatMs = options.heartbeatMs ?? 10_000;
  let client: pg.Client | null = null;
  let listening = false;
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
      const wasListening = listening;
      listening = false;
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
    try {
      await current.connect();
      await current.query(`listen ${AUTH_CHANNEL}`);
    } catch (error) {
      lost(error);
      return;
    }
    if (gone || closed) return;
    listening = true;
    failures = 0;
    target.resume();
    heard();
    options.log?.info({ channel: AUTH_CHANNEL }, 'token cache on: listening for revocations');
    heartbeatTimer = setInterval(() => void heartbeat(current, lost), heartbeatMs).unref();
  }

  /** A connection cut without a word (no FIN, no RST) would otherwise look alive forever. */
  async function heartbeat(current: pg.Client, lost: (error?: unknown) => void): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const silence = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${heartbeatMs} ms`)), heartbeatMs);
    });
    try {
      await Promise.race([current.query('select 1'), silence]);
    } catch (error) {
      lost(error);
    } finally {
      clearTimeout(timer);
    }
  }

  void connect();
  return {
    get listening() {
      return listening;
    },
    async whenListening(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
      const result = await Promise.race([firstListen.then(() => listening), late]);
      clearTimeout(timer);
      return result;
    },
    async sync() {
      const current = client;
      if (!listening || current === null) return;
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, 1_000)));
      await Promise.race([current.query('select 1').then(() => {}, () => {}), late]);
      clearTimeout(timer);
    },
    async close() {
      closed = true;
      clearTimeout(retryTimer);
      clearInterval(heartbeatTimer);
      listening = false;
      const current = client;
      client = null;
      await current?.end().catch(() => {});
    },
  };
}
