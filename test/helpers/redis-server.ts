import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { freePort } from './free-port.ts';

/** The machine's Redis, which CI starts when it is down; tests share it, each under its own key prefix. */
export const LOCAL_REDIS_URL = 'redis://127.0.0.1:6379';

/**
 * Why the Redis tests cannot run on this machine (no Redis answering on 6379, or no redis-server to start
 * a throwaway one), or false when they can. `npm test` skips them, saying why; with TEST_REQUIRE_REDIS=1
 * (CI, which starts Redis) a missing Redis is a failure instead.
 */
export async function redisUnavailable(): Promise<string | false> {
  const probe = new Redis(LOCAL_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 2000 });
  probe.on('error', () => {});
  let reason: string | false = false;
  try {
    await probe.connect();
    await probe.ping();
  } catch {
    reason = `no Redis answers at ${LOCAL_REDIS_URL}`;
  } finally {
    probe.disconnect();
  }
  if (!reason && spawnSync('redis-server', ['--version']).error) reason = 'redis-server is not on PATH';
  if (reason && process.env.TEST_REQUIRE_REDIS === '1') throw new Error(`TEST_REQUIRE_REDIS=1 but ${reason}`);
  return reason;
}

export interface ThrowawayRedis {
  port: number;
  url: string;
  /** A client for inspecting what the service wrote (its own connection, closed by stop()). */
  client: Redis;
  /** SIGKILL, no goodbye: what a crashed or unplugged Redis looks like to the service. */
  kill(): Promise<void>;
  /** Starts a fresh, empty server on the same port. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A private redis-server on a free loopback port, no persistence, for tests that kill Redis: the machine's
 * Redis on 6379 is shared with other tests and is never stopped.
 */
export async function startThrowawayRedis(): Promise<ThrowawayRedis> {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess;

  async function launch() {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => {});
    try {
      for (let attempt = 0; attempt < 100; attempt++) {
        if (child.exitCode !== null) throw new Error(`redis-server on port ${port} exited with ${child.exitCode}`);
        try {
          if (probe.status !== 'ready') await probe.connect();
          if ((await probe.ping()) === 'PONG') return;
        } catch {
          probe.disconnect();
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
      throw new Error(`redis-server on port ${port} did not answer`);
    } finally {
      probe.disconnect();
    }
  }

  async function kill() {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  await launch();
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  client.on('error', () => {});
  return {
    port,
    url,
    client,
    kill,
    restart: launch,
    async stop() {
      client.disconnect();
      await kill();
    },
  };
}
