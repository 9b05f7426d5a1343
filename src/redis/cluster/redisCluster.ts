import type { Redis } from 'ioredis';
import type { ClusterAdapter, SessionSupervisor } from '../../index.js';
import { ClusterSupervisor } from './ClusterSupervisor.js';
import { clusterKeys, DEFAULT_PREFIX } from './keys.js';

/** Options of {@link redisCluster}. */
export interface RedisClusterOptions {
  /**
   * The ioredis client for commands (the cluster makes one more, with `duplicate()`, for its
   * pub/sub). It is not closed by `shutdown()`: it is yours.
   */
  redis: Redis;
  /** This process's name in the cluster: unique among live processes, without `|`. */
  nodeId: string;
  /**
   * How long a node's ownership of its sessions lasts without renewal, ms. The node renews every
   * `leaseMs / 3`; a dead node's sessions move after at most `leaseMs` (+ the next message).
   * @default 3_000
   */
  leaseMs?: number;
  /** Prefix of every Redis key and channel the cluster uses. @default 'sp:' */
  prefix?: string;
  /**
   * The background sweep: stored sessions (passivated, nobody running them) written by an older
   * version of a `machineVersions` logic are migrated to the newest version this node holds, at
   * most this many a second per node (each is restored, which migrates it, saved and let go), so
   * that `sessions.versions()` reaches zero for the old versions. `0` turns it off. Runs only on
   * a node whose logics have older versions.
   * @default 20 (records per second)
   * @example
   * ```ts
   * redisCluster({ redis, nodeId, sweepPerSecond: 100 });
   * ```
   */
  sweepPerSecond?: number;
  /**
   * @internal Tests only: turns fencing off (no token check on writes, and a node that lost its
   * lease keeps running its sessions), so that the Jepsen-style test can show that its checker
   * catches the fork fencing prevents. Never in production.
   */
  testOnlyDisableFencing?: boolean;
}

/**
 * The multi-node mode: many processes serve one set of sessions, coordinated through Redis. Every
 * node serves every session ID; each session runs on one node at a time (a lease with a fencing
 * token that Redis checks on every write); when a node dies, its sessions come back elsewhere, from
 * their last saved snapshot, within `leaseMs` + 300 ms.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { createSessionSupervisor } from 'session-process';
 * import { redisCluster } from 'session-process/redis';
 *
 * const sessions = createSessionSupervisor({
 *   logics: { cart: cartMachine },
 *   cluster: redisCluster({ redis: new Redis(process.env.REDIS_URL), nodeId: `shop-${process.pid}` }),
 *   durability: 'durable',
 * });
 * await sessions.call(sessionId, { type: 'cart.add', sku: 'A1' }); // wherever the cart runs
 * ```
 */
export function redisCluster(options: RedisClusterOptions): ClusterAdapter {
  const { redis, nodeId } = options;
  if (!redis || typeof (redis as { publish?: unknown }).publish !== 'function')
    throw new TypeError('redisCluster({ redis }): redis must be an ioredis client');
  // Scripts compute keys from their arguments and channels are never prefixed: a client-side
  // keyPrefix would split one cluster's names in two. `prefix` does the same job here.
  if ((redis as { options?: { keyPrefix?: string } }).options?.keyPrefix)
    throw new TypeError(
      'redisCluster({ redis }): a client with keyPrefix is not supported; use the `prefix` option',
    );
  if (typeof nodeId !== 'string' || nodeId.length === 0 || nodeId.includes('|'))
    throw new TypeError(
      `redisCluster({ nodeId }): a non-empty string without '|', got ${String(nodeId)}`,
    );
  const leaseMs = options.leaseMs ?? 3_000;
  if (!(leaseMs >= 30)) throw new RangeError(`leaseMs must be at least 30, got ${String(leaseMs)}`);
  const keys = clusterKeys(options.prefix ?? DEFAULT_PREFIX);
  const sweepPerSecond = options.sweepPerSecond ?? 20;
  if (!(sweepPerSecond >= 0))
    throw new RangeError(`sweepPerSecond must be 0 or more, got ${String(sweepPerSecond)}`);
  let used = false;
  return {
    createSupervisor(local, createLocal): SessionSupervisor {
      if (used)
        throw new TypeError(
          'A redisCluster() adapter serves one supervisor; make one per supervisor',
        );
      used = true;
      if ((local as { store?: unknown }).store !== undefined)
        process.emitWarning(
          'createSessionSupervisor({ cluster, store }): the cluster keeps sessions in its own fenced Redis store; `store` is ignored',
          { code: 'SESSION_PROCESS_CLUSTER_STORE' },
        );
      return new ClusterSupervisor(local, createLocal, {
        redis,
        keys,
        nodeId,
        leaseMs,
        sweepPerSecond,
        unfenced: options.testOnlyDisableFencing === true,
      });
    },
  };
}
