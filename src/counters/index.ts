import type { FastifyBaseLogger } from 'fastify';
import { memoryCounters } from './memory.ts';
import { redisCounters } from './redis.ts';

/**
 * Fixed-window hit counters, shared by the per-caller rate limit and the login guard. A window starts at
 * a key's first hit and lasts `windowMs`; the count goes back to zero when it ends (not aligned to the
 * clock, so callers do not all reset at the same instant). At a window edge a caller can get up to twice
 * the limit within one window's span: the price of O(1) work per request and one Redis round trip.
 */
export interface Hit {
  /** Hits in the current window, this one included. */
  count: number;
  /** Milliseconds until the window ends. */
  resetMs: number;
}

export interface Counters {
  /** Counts one hit on `key`, starting a window of `windowMs` if none is running. Never rejects. */
  hit(key: string, windowMs: number): Promise<Hit>;
  /** Takes back one hit on `key` if its window is still running. Never rejects. */
  undo(key: string): Promise<void>;
  close(): Promise<void>;
  /** Redis counters only: true while counting falls back to process memory (read by metrics). */
  usingFallback?(): boolean;
}

interface CountersOptions {
  redisUrl: string | null;
  redisKeyPrefix: string;
  log: FastifyBaseLogger;
}

/** Counters in Redis when a Redis URL is given (one limit across instances), else in process memory. */
export async function openCounters({ redisUrl, redisKeyPrefix, log }: CountersOptions): Promise<Counters> {
  return redisUrl ? redisCounters({ url: redisUrl, keyPrefix: redisKeyPrefix, log }) : memoryCounters();
}
