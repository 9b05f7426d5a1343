import type { Redis } from 'ioredis';
import type { AnyActorLogic } from 'xstate';
import type { ClusterKeys } from './keys.js';

/** @internal The versions a node holds, by logic name. */
export type HeldVersions = Record<string, string[]>;

/**
 * @internal The versions of each logic of a node: every version of a `machineVersions` logic
 * (its `versions.list`), or a plain machine's `version`.
 */
export function heldVersions(logics: Readonly<Record<string, AnyActorLogic>>): HeldVersions {
  const out: HeldVersions = {};
  for (const [name, logic] of Object.entries(logics)) {
    const chain = (logic as { versions?: { list?: unknown } }).versions;
    if (chain && Array.isArray(chain.list)) out[name] = chain.list.map(String);
    else {
      const v = (logic as { version?: unknown }).version;
      out[name] = typeof v === 'string' ? [v] : [];
    }
  }
  return out;
}

/**
 * @internal Where each node advertises the versions it holds (`<prefix>nv`, a hash: node ID to
 * its versions by logic), so that a node that finds a record newer than its code can send the
 * session to a node that can run it. Written when the node starts, removed when it shuts down; a
 * dead node's entry stays until its ID starts again, and counts only while its lease is live.
 */
export class NodeVersions {
  readonly #redis: Redis;
  readonly #key: string;
  readonly #keys: ClusterKeys;
  readonly #nodeId: string;
  readonly held: HeldVersions;

  constructor(redis: Redis, keys: ClusterKeys, nodeId: string, held: HeldVersions) {
    this.#redis = redis;
    this.#keys = keys;
    this.#key = `${keys.prefix}nv`;
    this.#nodeId = nodeId;
    this.held = held;
  }

  advertise(): Promise<unknown> {
    return this.#redis.hset(this.#key, this.#nodeId, JSON.stringify(this.held));
  }

  withdraw(): Promise<unknown> {
    return this.#redis.hdel(this.#key, this.#nodeId);
  }

  /** The other nodes, live now, that hold `version` of `logic`. */
  async holders(logic: string, version: string): Promise<string[]> {
    const all = await this.#redis.hgetall(this.#key);
    const out: string[] = [];
    for (const [node, json] of Object.entries(all)) {
      if (node === this.#nodeId) continue;
      let held: HeldVersions;
      try {
        held = JSON.parse(json) as HeldVersions;
      } catch {
        continue;
      }
      if (held[logic]?.includes(version)) out.push(node);
    }
    if (out.length === 0) return out;
    // Live: the node's lease key exists.
    const live = await this.#redis.exists(...out.map((n) => this.#keys.node(n)));
    if (live === out.length) return out;
    const alive: string[] = [];
    for (const n of out) if (await this.#redis.exists(this.#keys.node(n))) alive.push(n);
    return alive;
  }

  /** The logic and version that wrote session `id`'s record, if it is stored. */
  async recordOf(id: string): Promise<{ logic: string; version: string } | undefined> {
    const data = await this.#redis.hget(this.#keys.record(id), 'd');
    if (data === null) return undefined;
    try {
      const r = JSON.parse(data) as { logic?: unknown; logicVersion?: unknown };
      if (typeof r.logic !== 'string' || typeof r.logicVersion !== 'string') return undefined;
      return { logic: r.logic, version: r.logicVersion };
    } catch {
      return undefined;
    }
  }
}
