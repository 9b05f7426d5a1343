import type { Redis } from 'ioredis';
import type { ClusterKeys } from './keys.js';
import type { HeldVersions } from './NodeVersions.js';
import { presence } from './presence.js';

/** @internal What the sweep needs from its node. */
export interface MigrationSweepParts {
  redis: Redis;
  keys: ClusterKeys;
  nodeId: string;
  /** The versions this node holds, oldest first, by logic. */
  held: HeldVersions;
  /** Records migrated at most per second. */
  perSecond: number;
  /** Whether the node may take sessions now (lease held, not draining, not closed). */
  active(): boolean;
  /** Brings a stored session here (migrated on restore), saves it and lets it go; whether it did. */
  migrate(id: string): Promise<boolean>;
  report(err: unknown): void;
}

/** Record keys read per step of the scan. */
const SCAN_COUNT = 200;

/**
 * @internal The background sweep: walks the store (`SCAN` over the record keys, a step a second)
 * and migrates each passivated record written by an older version of a logic to the newest
 * version this node holds, at most `perSecond` a second, so that `sessions.versions()` (from the
 * store) reaches zero for the old versions and an operator knows when their code can go.
 * A session running on a live node is left to it (it is written at that node's version); a record
 * of a version this node does not hold, or already at its newest, is left alone.
 */
export class MigrationSweep {
  readonly #p: MigrationSweepParts;
  readonly #recordPrefix: string;
  #cursor = '0';
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  /** Records migrated since the node started. */
  migrated = 0;

  constructor(parts: MigrationSweepParts) {
    this.#p = parts;
    this.#recordPrefix = parts.keys.record('');
  }

  /** Whether any logic of this node has an older version to migrate from. */
  get needed(): boolean {
    return Object.values(this.#p.held).some((list) => list.length > 1);
  }

  start(): void {
    if (!this.needed || this.#p.perSecond <= 0 || this.#timer) return;
    this.#timer = setInterval(() => void this.#step(), 1_000);
    this.#timer.unref?.();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One second's work: scan on until `perSecond` records were migrated or a step is done. */
  async #step(): Promise<void> {
    if (this.#running || !this.#p.active()) return;
    this.#running = true;
    const until = performance.now() + 900;
    let budget = this.#p.perSecond;
    try {
      do {
        const [next, keys] = await this.#p.redis.scan(
          this.#cursor,
          'MATCH',
          `${this.#recordPrefix}*`,
          'COUNT',
          SCAN_COUNT,
        );
        this.#cursor = next;
        for (const key of keys) {
          if (budget <= 0 || performance.now() > until || !this.#p.active()) return;
          const id = key.slice(this.#recordPrefix.length);
          if (!(await this.#older(id))) continue;
          budget--;
          if (await this.#p.migrate(id)) this.migrated++;
        }
      } while (this.#cursor !== '0' && budget > 0 && performance.now() < until);
    } catch (err) {
      this.#p.report(err);
    } finally {
      this.#running = false;
    }
  }

  /** Whether `id`'s record is of an older version than this node's newest, and nobody runs it. */
  async #older(id: string): Promise<boolean> {
    const data = await this.#p.redis.hget(this.#p.keys.record(id), 'd');
    if (data === null) return false;
    let logic: unknown;
    let version: unknown;
    try {
      ({ logic, logicVersion: version } = JSON.parse(data) as {
        logic?: unknown;
        logicVersion?: unknown;
      });
    } catch {
      return false;
    }
    if (typeof logic !== 'string' || typeof version !== 'string') return false;
    const list = this.#p.held[logic];
    if (!list) return false;
    const at = list.indexOf(version);
    if (at < 0 || at === list.length - 1) return false;
    // Nobody runs it, or this node holds it passivated (the node's migrate skips one in memory).
    const owner = (await presence(this.#p.redis, this.#p.keys, id)).owner;
    return owner === undefined || owner === this.#p.nodeId;
  }
}
