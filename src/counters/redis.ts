import { Redis } from 'ioredis';
import type { FastifyBaseLogger } from 'fastify';
import type { Counters, Hit } from './index.ts';
import { memoryCounters } from './memory.ts';

/** INCR and the window's expiry in one atomic step; a key left without a TTL gets one. */
const HIT = `
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}`;

/** DECR only a running window: a DECR on an expired key would create one that never expires. */
const UNDO = `
local count = tonumber(redis.call('GET', KEYS[1]))
if count and count > 0 then redis.call('DECR', KEYS[1]) end
return 0`;

interface Scripts {
  eoaHit(key: string, windowMs: number): Promise<[number, number]>;
  eoaUndo(key: string): Promise<number>;
}

/** After a failed command, requests skip Redis this long, so a hanging Redis costs one timeout per second, not one per request. */
const BACKOFF_MS = 1000;

interface RedisCountersOptions {
  url: string;
  keyPrefix: string;
  log: FastifyBaseLogger;
  commandTimeoutMs?: number;
}

/**
 * Counters in Redis, shared by every instance. Redis is never allowed to fail a request: while it is
 * unreachable (or slow past the command timeout) counting continues in this process's memory, one warning
 * is logged per outage, and Redis is used again as soon as a command succeeds. ioredis reconnects on its
 * own; the offline queue is off so no request waits for a connection that may never come.
 */
export async function redisCounters({ url, keyPrefix, log, commandTimeoutMs = 1000 }: RedisCountersOptions): Promise<Counters> {
  const fallback = memoryCounters();
  const redis = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: commandTimeoutMs,
    connectTimeout: 2000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
  });
  redis.defineCommand('eoaHit', { numberOfKeys: 1, lua: HIT });
  redis.defineCommand('eoaUndo', { numberOfKeys: 1, lua: UNDO });
  const scripts = redis as unknown as Scripts;

  let closing = false;
  let down = false;
  let skipUntil = 0;

  function failed(reason: string) {
    skipUntil = Date.now() + BACKOFF_MS;
    if (down || closing) return;
    down = true;
    log.warn({ reason }, 'rate-limit counters: Redis unreachable; counting in process memory until it is back');
  }

  function succeeded() {
    if (!down) return;
    down = false;
    log.info('rate-limit counters: Redis reachable again; counting in Redis');
  }

  // Connection errors arrive as events while ioredis reconnects; unhandled, they would be printed raw.
  redis.on('error', (error: Error) => failed(error.message));
  redis.on('close', () => failed('connection closed'));

  const usable = () => redis.status === 'ready' && Date.now() >= skipUntil;

  async function inRedis<T>(command: () => Promise<T>): Promise<T | undefined> {
    if (!usable()) return undefined;
    try {
      const result = await command();
      succeeded();
      return result;
    } catch (error) {
      failed(error instanceof Error ? error.message : String(error));
      return undefined;
    }
  }

  await redis.connect().catch((error: Error) => failed(error.message));

  return {
    async hit(key: string, windowMs: number): Promise<Hit> {
      const result = await inRedis(() => scripts.eoaHit(keyPrefix + key, windowMs));
      if (!result) return fallback.hit(key, windowMs);
      return { count: Number(result[0]), resetMs: Number(result[1]) };
    },
    async undo(key: string) {
      // A hit counted in memory during an outage is undone there; undoing in both is harmless.
      await Promise.all([inRedis(() => scripts.eoaUndo(keyPrefix + key)), fallback.undo(key)]);
    },
    usingFallback: () => !usable(),
    async close() {
      closing = true;
      if (redis.status === 'ready') await redis.quit().catch(() => redis.disconnect());
      else redis.disconnect();
      await fallback.close();
    },
  };
}
