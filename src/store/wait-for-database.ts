import { setTimeout as sleep } from 'node:timers/promises';
import { pingStore, type Store } from './database.ts';
import { StoreUnreachableError } from './availability.ts';

/** Start-up cannot go on without the database; main.ts prints this message alone, with no stack. */
export class DatabaseUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatabaseUnavailableError';
  }
}

/** Errors that a database still starting (or a name not resolvable yet, under compose) gives. */
const TRANSIENT_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', '57P03', '53300']);
const TRANSIENT_MESSAGE = /Connection terminated|timeout exceeded when trying to connect|the database system is (starting up|shutting down)/i;

const RETRY_DELAY_MS = 2000;

interface WaitOptions {
  /** Give up after this long (EOA_DB_WAIT_S); 0 tries once. */
  waitS: number;
  /** Told about each failed attempt, with a one-line message. */
  onRetry: (message: string) => void;
  delayMs?: number;
}

/**
 * Waits until the database answers, as it must when the service starts beside it (compose, a failover):
 * PostgreSQL a few seconds late is a message per attempt, not a crash. Bounded in time and in attempts;
 * an error that waiting cannot fix (a wrong password, a missing database) fails at once. SQLite is a file:
 * nothing to wait for.
 */
export async function waitForDatabase(store: Store, { waitS, onRetry, delayMs = RETRY_DELAY_MS }: WaitOptions): Promise<void> {
  if (store.engine === 'sqlite') return;
  const deadline = Date.now() + waitS * 1000;
  const attempts = Math.floor((waitS * 1000) / delayMs) + 1;
  for (let attempt = 1; ; attempt++) {
    try {
      await pingStore(store);
      return;
    } catch (caught) {
      // The driver wraps a connection it could not open (availability.ts); the cause says why.
      const error = caught instanceof StoreUnreachableError ? caught.cause : caught;
      const reason = describe(error);
      if (!isTransient(error)) throw new DatabaseUnavailableError(`cannot use the database: ${reason}`);
      if (attempt >= attempts || Date.now() + delayMs > deadline) {
        throw new DatabaseUnavailableError(`database unreachable after ${attempt} attempt${attempt === 1 ? '' : 's'} in ${waitS} s (EOA_DB_WAIT_S): ${reason}`);
      }
      onRetry(`database not reachable yet (${reason}); attempt ${attempt} of ${attempts}, retrying in ${delayMs / 1000} s`);
      await sleep(delayMs);
    }
  }
}

function isTransient(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: string; message?: string };
  return (code !== undefined && TRANSIENT_CODES.has(code)) || TRANSIENT_MESSAGE.test(message ?? '');
}

/** The error's code and first line: never the connection string (it may hold a password). */
function describe(error: unknown): string {
  const { code, message } = (error ?? {}) as { code?: string; message?: string };
  const line = String(message ?? error).split('\n')[0].slice(0, 200) || 'unknown error';
  return code && !line.includes(code) ? `${code}: ${line}` : line;
}
