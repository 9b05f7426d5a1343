import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { ClusterAdapter, Durability, SessionStore } from 'session-process';
import { redisCluster, redisStore } from 'session-process/redis';
import { sqliteStore } from 'session-process/sqlite';

/** Where the demo keeps its sessions, from the environment. */
export interface ShopStore {
  store: SessionStore | undefined;
  /** With `WORKERS` > 1: the Redis cluster every worker joins (then `store` is undefined). */
  cluster?: ClusterAdapter | undefined;
  durability: Durability;
  /** One line for the start-up banner. */
  describe: string;
  /** Releases the store and the client it made. */
  close(): Promise<void>;
}

/**
 * The demo's store: `STORE=sqlite` (the default) keeps sessions in `${dataDir}/sessions.db`, one
 * file, no server; `STORE=redis` in Redis at `REDIS_URL` (default `redis://127.0.0.1:6379`,
 * keys under `REDIS_PREFIX`, default `shop:`);
 * `STORE=memory` nowhere (sessions end with the process). With `WORKERS` > 1 every worker joins
 * one Redis cluster (`session-process/redis`) at `REDIS_URL`. Calls are `durable`: a cart change
 * a shopper saw acknowledged survives even `kill -9`.
 *
 * @example
 * ```ts
 * const { store, durability } = shopStore(process.env, 'data');
 * const sessions = createSessionSupervisor({ logic: cartMachine, store, durability });
 * ```
 */
export function shopStore(env: Record<string, string | undefined>, dataDir: string): ShopStore {
  if (Number(env.WORKERS ?? 1) > 1) {
    // Several processes: one set of sessions on Redis, each served by one worker at a time.
    const url = env.REDIS_URL ?? 'redis://127.0.0.1:6379';
    const redis = new Redis(url, { maxRetriesPerRequest: 1 });
    redis.on('error', () => {});
    const nodeId = `shop-${process.pid}`;
    return {
      store: undefined,
      cluster: redisCluster({ redis, nodeId, prefix: env.REDIS_PREFIX ?? 'shop:' }),
      durability: 'durable',
      describe: `redis cluster at ${url} (this worker is node ${nodeId})`,
      async close() {
        redis.disconnect();
      },
    };
  }
  const kind = env.STORE ?? 'sqlite';
  if (kind === 'memory')
    return {
      store: undefined,
      durability: 'none',
      describe: 'memory (sessions end with the process)',
      close: async () => {},
    };
  if (kind === 'redis') {
    const url = env.REDIS_URL ?? 'redis://127.0.0.1:6379';
    const redis = new Redis(url, { maxRetriesPerRequest: 1 });
    redis.on('error', () => {}); // the store reports failures as STORE_UNAVAILABLE
    const store = redisStore({ redis, prefix: env.REDIS_PREFIX ?? 'shop:' });
    return {
      store,
      durability: 'durable',
      describe: `redis at ${url}`,
      async close() {
        await store.close();
        redis.disconnect();
      },
    };
  }
  if (kind !== 'sqlite') throw new Error(`STORE must be sqlite, redis or memory, got ${kind}`);
  const path = join(dataDir, 'sessions.db');
  const store = sqliteStore({ path });
  return {
    store,
    durability: 'durable',
    describe: `sqlite file ${path}`,
    close: () => store.close(),
  };
}
