import { sql, type Transaction } from 'kysely';
import type { Database } from './schema.ts';
import { isConnectionLost } from './postgres-driver.ts';

/**
 * A store that cannot write for lack of space, or cannot be reached, is unavailable, not broken: the
 * request that met it gets a 503 with Retry-After (the client may try again later),
 * not a 500, and /readyz says not ready until writes work again.
 */
type Unavailability = 'out_of_space' | 'unreachable';

/** Seconds a client is asked to wait before retrying a request the store could not serve. */
export const STORE_RETRY_AFTER_S = 5;

/** A connection to PostgreSQL could not be had at all (refused, timed out, database not accepting). */
export class StoreUnreachableError extends Error {
  constructor(cause: unknown) {
    super(`database unreachable: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'StoreUnreachableError';
  }
}

export function unavailability(error: unknown): Unavailability | null {
  if (!(error instanceof Error)) return null;
  const code = (error as { code?: unknown }).code;
  // SQLite answers ENOSPC with SQLITE_FULL; PostgreSQL with disk_full (53100).
  if (code === 'SQLITE_FULL' || code === '53100' || code === 'ENOSPC') return 'out_of_space';
  if (error instanceof StoreUnreachableError || isConnectionLost(error)) return 'unreachable';
  return null;
}

/**
 * Whether writes are failing for lack of space. Set by any request that met a full disk; cleared only by
 * a write that succeeds (readiness tries one while this is set), so /readyz turns ready again by itself
 * once space returns, without a restart and without traffic that a not-ready instance would not get.
 */
export interface WriteHealth {
  readonly outOfSpaceSince: Date | null;
  outOfSpace(): void;
  writable(): void;
}

export function createWriteHealth(): WriteHealth {
  let since: Date | null = null;
  return {
    get outOfSpaceSince() {
      return since;
    },
    outOfSpace() {
      since ??= new Date();
    },
    writable() {
      since = null;
    },
  };
}

/**
 * A write that changes nothing but must reach the disk like any other (a new row version, a WAL frame):
 * whether it commits tells whether writes work again. Readiness runs it only while writes are known to fail.
 */
export async function probeWrite(tx: Transaction<Database>): Promise<void> {
  await sql`update roles set name = name where id = (select min(id) from roles)`.execute(tx);
}
