import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

export const REDIS_URL = 'redis://127.0.0.1:6379';
const REDIS_SERVER = '/usr/bin/redis-server';

/**
 * Whether the shared Redis on 127.0.0.1:6379 answers. Without it the tests are skipped with a
 * printed reason, except under CI (`CI=true`), where a missing Redis is a failure.
 */
export async function redisAvailable(): Promise<boolean> {
  const probe = new Redis(REDIS_URL, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 1_000,
  });
  probe.on('error', () => {});
  try {
    await probe.connect();
    await probe.ping();
    return true;
  } catch (err) {
    if (process.env.CI === 'true')
      throw new Error(`Redis is not reachable at ${REDIS_URL}: ${err}`);
    console.warn(`skipping Redis store tests: no Redis at ${REDIS_URL} (${err})`);
    return false;
  } finally {
    probe.disconnect();
  }
}

/** Whether a private redis-server can be started (for the outage tests), printed when not. */
export function redisServerAvailable(): boolean {
  if (existsSync(REDIS_SERVER)) return true;
  if (process.env.CI === 'true') throw new Error(`${REDIS_SERVER} is missing`);
  console.warn(`skipping Redis outage tests: ${REDIS_SERVER} is missing`);
  return false;
}

/** Deletes every key under `prefix` (SCAN, not KEYS: the Redis is shared). */
export async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1_000);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
}

/** A port nothing listens on (a listener on port 0, closed). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A private redis-server (no persistence) that a test may pause, stop and restart. */
export class PrivateRedis {
  process: ChildProcess | undefined;
  /** `args`: more redis-server options; the default keeps nothing on disk. */
  constructor(
    readonly port: number,
    readonly args: readonly string[] = ['--save', '', '--appendonly', 'no'],
  ) {}

  static async start(args?: readonly string[]): Promise<PrivateRedis> {
    const server = new PrivateRedis(await freePort(), args);
    await server.start();
    return server;
  }

  async start(): Promise<void> {
    this.process = spawn(
      REDIS_SERVER,
      ['--port', String(this.port), '--bind', '127.0.0.1', ...this.args],
      { stdio: 'ignore' },
    );
    const probe = new Redis(this.port, '127.0.0.1', {
      maxRetriesPerRequest: 0,
      retryStrategy: () => 20,
    });
    probe.on('error', () => {});
    try {
      for (let i = 0; ; i++) {
        try {
          await probe.ping();
          return;
        } catch (err) {
          if (i > 100) throw err;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }
    } finally {
      probe.disconnect();
    }
  }

  /** Kills the server (SIGKILL) and waits for it to exit. */
  async kill(): Promise<void> {
    const proc = this.process;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGKILL');
    await exited;
  }
}
