import { randomBytes } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import { assign, setup } from 'xstate';
import { createSessionSupervisor, reply } from 'session-process';
import {
  type ClusterSessionSupervisor,
  redisCluster,
  type RedisClusterOptions,
} from 'session-process/redis';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Whether Redis answers; in CI a missing Redis fails the run instead of skipping it. */
export async function redisAvailable(what: string): Promise<boolean> {
  const probe = new Redis(REDIS_URL, {
    lazyConnect: true,
    connectTimeout: 500,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  try {
    await probe.connect();
    await probe.ping();
    return true;
  } catch {
    if (process.env.CI === 'true')
      throw new Error(`Redis at ${REDIS_URL} is missing: ${what} cannot run in CI`);
    console.warn(`skipping ${what}: no Redis at ${REDIS_URL}`);
    return false;
  } finally {
    probe.disconnect();
  }
}

/** A key prefix no other test uses. */
export function uniquePrefix(): string {
  return `test:cluster:${randomBytes(6).toString('hex')}:`;
}

/** Counts `inc` events; `get` replies with the count; `items` keeps unique additions. */
export const counterMachine = setup({
  types: {
    context: {} as { n: number; items: string[] },
    events: {} as
      | { type: 'inc' }
      | { type: 'get' }
      | { type: 'add'; item: string }
      | { type: 'fail' },
  },
}).createMachine({
  id: 'counter',
  context: { n: 0, items: [] },
  on: {
    inc: {
      actions: [assign({ n: ({ context }) => context.n + 1 }), reply(({ context }) => context.n)],
    },
    get: { actions: reply(({ context }) => context.n) },
    add: {
      actions: [
        assign({ items: ({ context, event }) => [...context.items, event.item] }),
        reply(({ context }) => context.items.length),
      ],
    },
  },
});

export interface TestNode {
  nodeId: string;
  redis: Redis;
  sessions: ClusterSessionSupervisor;
  errors: unknown[];
}

/** A cluster of nodes in this process, each on its own Redis connections; closed by `close()`. */
export class TestCluster {
  readonly prefix = uniquePrefix();
  readonly nodes: TestNode[] = [];
  readonly #admin = new Redis(REDIS_URL);

  node(
    nodeId: string,
    options: Partial<RedisClusterOptions> & {
      supervisor?: Record<string, unknown>;
      redis?: Redis;
    } = {},
    redisOptions: RedisOptions = {},
  ): TestNode {
    const redis =
      options.redis ??
      new Redis(REDIS_URL, { connectionName: `${this.prefix}${nodeId}`, ...redisOptions });
    const errors: unknown[] = [];
    const { supervisor, ...cluster } = options;
    const sessions = createSessionSupervisor({
      logic: counterMachine,
      durability: 'durable',
      onError: (err) => errors.push(err),
      ...supervisor,
      cluster: redisCluster({ leaseMs: 600, prefix: this.prefix, ...cluster, redis, nodeId }),
    }) as ClusterSessionSupervisor;
    const node = { nodeId, redis, sessions, errors };
    this.nodes.push(node);
    return node;
  }

  /**
   * Cuts a node off Redis, as a dead process would (both its connections), or only its command
   * connection (`commandsOnly`): it still hears requests but can no longer renew its lease, as a
   * paused or partitioned node.
   */
  async cut(node: TestNode, commandsOnly = false): Promise<void> {
    const names = [`${this.prefix}${node.nodeId}`, `${this.prefix}${node.nodeId}:lease`];
    if (!commandsOnly) names.push(`${this.prefix}${node.nodeId}:sub`);
    const list = await this.#admin.client('LIST');
    for (const line of String(list).split('\n')) {
      const name = /name=(\S*)/.exec(line)?.[1];
      const id = /id=(\d+)/.exec(line)?.[1];
      if (id && name && names.includes(name)) await this.#admin.client('KILL', 'ID', id);
    }
  }

  get admin(): Redis {
    return this.#admin;
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.nodes.map((n) => n.sessions.shutdown()));
    for (const n of this.nodes) n.redis.disconnect();
    const keys = await this.#admin.keys(`${this.prefix}*`);
    if (keys.length) await this.#admin.del(...keys);
    this.#admin.disconnect();
  }
}

/** Waits until `fn` returns true (polling), or fails after `ms`. */
export async function eventually(fn: () => boolean | Promise<boolean>, ms = 3_000): Promise<void> {
  const until = performance.now() + ms;
  for (;;) {
    if (await fn()) return;
    if (performance.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
