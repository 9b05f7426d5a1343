import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { ClusterKeys } from './keys.js';

/**
 * @internal A question for one node rather than for a session's owner: what it runs (the
 * visualizer's list), where a session is (`status`), or an operation a draining node hands to a
 * node that still activates sessions. Each node listens on its own query channel; answers come
 * back on the asker's.
 */
export type NodeQuery =
  | { q: 'status'; id: string }
  | { q: 'list'; limit: number }
  | { q: 'op'; req: unknown; ttlMs: number; rid?: string; tried?: number };

/** @internal What {@link NodeQueries.send} answers. */
export type NodeAnswer<T> = { value: T } | { reached: boolean };

interface Wire {
  k: 'q' | 'p';
  /** Request ID. */
  r: string;
  /** The asking node (where the answer goes). */
  f: string;
  /** The query, or the answer. */
  b: unknown;
}

/** @internal The query channel of a node (beside its request channel `c:`). */
export function queryChannel(keys: ClusterKeys, nodeId: string): string {
  return `${keys.prefix}nq:${nodeId}`;
}

/**
 * @internal Node-to-node questions over pub/sub, one attempt each: an answer, or `undefined` when
 * nobody listens on the node's channel or it does not answer in time (the asker decides what that
 * means; none of these questions changes anything that a repeat could apply twice, except `op`,
 * whose operation carries its own idempotency through the node that routes it).
 */
export class NodeQueries {
  readonly #redis: Redis;
  readonly #keys: ClusterKeys;
  readonly #nodeId: string;
  readonly #answer: (query: NodeQuery) => Promise<unknown>;
  readonly #waiters = new Map<string, { resolve(v: unknown): void; timer: NodeJS.Timeout }>();
  readonly #prefix = randomBytes(6).toString('base64url');
  #seq = 0;

  constructor(
    redis: Redis,
    keys: ClusterKeys,
    nodeId: string,
    answer: (query: NodeQuery) => Promise<unknown>,
  ) {
    this.#redis = redis;
    this.#keys = keys;
    this.#nodeId = nodeId;
    this.#answer = answer;
  }

  /** This node's query channel (the node subscribes to it). */
  get channel(): string {
    return queryChannel(this.#keys, this.#nodeId);
  }

  /** Asks `nodeId`; its answer, or `undefined` (nobody listening, no answer within `waitMs`). */
  async ask<T>(nodeId: string, query: NodeQuery, waitMs: number): Promise<T | undefined> {
    const a = await this.send<T>(nodeId, query, waitMs);
    return 'value' in a ? a.value : undefined;
  }

  /**
   * Asks `nodeId`: `{ value }`, or `{ reached: false }` when nothing listens on its channel (the
   * node is gone: the question was not seen), `{ reached: true }` when no answer came in time.
   */
  async send<T>(nodeId: string, query: NodeQuery, waitMs: number): Promise<NodeAnswer<T>> {
    const r = `${this.#prefix}.${(++this.#seq).toString(36)}`;
    const answer = new Promise<NodeAnswer<T>>((resolve) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(r);
        resolve({ reached: true });
      }, waitMs);
      this.#waiters.set(r, { resolve: (value) => resolve({ value: value as T }), timer });
    });
    const wire: Wire = { k: 'q', r, f: this.#nodeId, b: query };
    let receivers = 0;
    try {
      receivers = await this.#redis.publish(queryChannel(this.#keys, nodeId), JSON.stringify(wire));
    } catch {
      receivers = 0;
    }
    if (receivers === 0) {
      const w = this.#waiters.get(r);
      if (w) clearTimeout(w.timer);
      this.#waiters.delete(r);
      return { reached: false };
    }
    return answer;
  }

  /** A message on this node's query channel: a question to answer, or an answer to ours. */
  onMessage(raw: string): void {
    let msg: Wire;
    try {
      msg = JSON.parse(raw) as Wire;
    } catch {
      return;
    }
    if (!msg || typeof msg !== 'object' || typeof msg.r !== 'string') return;
    if (msg.k === 'p') {
      this.#settle(msg.r, msg.b);
      return;
    }
    if (msg.k !== 'q' || typeof msg.f !== 'string') return;
    const reply = (b: unknown) =>
      void this.#redis
        .publish(queryChannel(this.#keys, msg.f), JSON.stringify({ k: 'p', r: msg.r, b }))
        .catch(() => {});
    this.#answer(msg.b as NodeQuery).then(reply, () => reply(undefined));
  }

  #settle(r: string, value: unknown): void {
    const w = this.#waiters.get(r);
    if (!w) return;
    this.#waiters.delete(r);
    clearTimeout(w.timer);
    w.resolve(value);
  }

  /** Gives up every pending question (each answers as unanswered). */
  close(): void {
    const waiters = [...this.#waiters.values()];
    this.#waiters.clear();
    for (const w of waiters) {
      clearTimeout(w.timer);
      w.resolve(undefined);
    }
  }
}
