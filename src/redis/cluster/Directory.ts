import type { SessionSupervisor } from '../../index.js';
import type { Redis } from 'ioredis';
import type { ClusterKeys } from './keys.js';

/**
 * @internal The IDs of every session of the cluster, mirrored in each node's memory, so that the
 * synchronous `started(id)` and `touch(id)` (which the Koa middleware asks on every request) answer
 * for sessions that run on other nodes. Redis holds the set; the owner announces each start and end
 * on the directory channel; a node loads the set when it starts.
 */
export class Directory {
  readonly #ids = new Set<string>();
  readonly #redis: Redis;
  readonly #keys: ClusterKeys;
  constructor(redis: Redis, keys: ClusterKeys) {
    this.#redis = redis;
    this.#keys = keys;
  }

  has(id: string): boolean {
    return this.#ids.has(id);
  }

  get size(): number {
    return this.#ids.size;
  }

  /** Loads the set from Redis (after subscribing to the channel, so nothing is missed between). */
  async load(): Promise<void> {
    let cursor = '0';
    do {
      const [next, ids] = await this.#redis.sscan(this.#keys.ids, cursor, 'COUNT', 1000);
      for (const id of ids) this.#ids.add(id);
      cursor = next;
    } while (cursor !== '0');
  }

  /** A message on the directory channel: `+id` or `-id`. */
  onMessage(raw: string): void {
    const id = raw.slice(1);
    if (raw[0] === '+') this.#ids.add(id);
    else if (raw[0] === '-') this.#ids.delete(id);
  }

  /** Notes locally that `id` exists (another node said so), ahead of its announcement. */
  learn(id: string): void {
    this.#ids.add(id);
  }

  /** Announces that `id` exists (it started on this node). */
  add(id: string): Promise<unknown> {
    this.#ids.add(id);
    return this.#redis
      .multi()
      .sadd(this.#keys.ids, id)
      .publish(this.#keys.directory, `+${id}`)
      .exec();
  }

  /**
   * Keeps the directory in step with the node's in-process supervisor: a session it starts (and
   * owns) is announced, one that ends there for good is withdrawn (one stopped by a shutdown lives
   * on in the store). Returns the unsubscribe functions.
   */
  follow(
    local: SessionSupervisor,
    o: {
      owns(id: string): boolean;
      /** A session owned here ended: its views stop being forwarded. */
      ended(id: string): void;
      report(err: unknown, id: string): void;
    },
  ): (() => void)[] {
    return [
      local.on('start', (e) => {
        if (!e.restart && !e.restored && o.owns(e.sessionId))
          void this.add(e.sessionId).catch((err) => o.report(err, e.sessionId));
      }),
      local.on('stop', (e) => {
        if (e.reason === 'shutdown' || !o.owns(e.sessionId)) return;
        // Its ownership ends with the deletion of its record (the fenced store's delete), which
        // the core schedules after this: releasing it now would let that delete be refused.
        o.ended(e.sessionId);
        void this.remove(e.sessionId).catch(() => {});
      }),
    ];
  }

  /** Announces that `id` ended. */
  remove(id: string): Promise<unknown> {
    this.#ids.delete(id);
    return this.#redis
      .multi()
      .srem(this.#keys.ids, id)
      .publish(this.#keys.directory, `-${id}`)
      .exec();
  }
}
