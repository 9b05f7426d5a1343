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
  /** Keys the scan returned that no step looked at yet. */
  #pending: string[] = [];
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

  /**
   * One second's work: on through the keys until `perSecond` records were migrated, the second
   * is used up, or every key was looked at once in this step.
   */
  async #step(): Promise<void> {
    if (this.#running || !this.#p.active()) return;
    this.#running = true;
    const until = performance.now() + 900;
    let budget = this.#p.perSecond;
    // A step that reaches the end of the keys goes on from the start (once): the records at the
    // start are this step's work too, not the next one's.
    let wrapped = false;
    try {
      while (budget > 0 && performance.now() < until && this.#p.active()) {
        const key = this.#pending.pop();
        if (key === undefined) {
          if (this.#cursor === '0') {
            if (wrapped) return;
            wrapped = true;
          }
          const [next, keys] = await this.#p.redis.scan(
            this.#cursor,
            'MATCH',
            `${globEscape(this.#recordPrefix)}*`,
            'COUNT',
            SCAN_COUNT,
          );
          this.#cursor = next;
          // Each node in its own order: nodes that sweep together would otherwise walk the
          // same keys in step, each spending its budget on the record another is migrating.
          // The keys a step has no budget left for wait for the next step.
          this.#pending = shuffle(keys);
          continue;
        }
        const id = key.slice(this.#recordPrefix.length);
        if (!(await this.#older(id))) continue;
        budget--;
        if (await this.#p.migrate(id)) this.migrated++;
      }
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

function shuffle<T>(list: T[]): T[] {
  for (let i = list.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [list[i], list[j]] = [list[j]!, list[i]!];
  }
  return list;
}

/** `text` as a literal in a Redis MATCH pattern (a prefix may hold `*`, `?`, `[`). */
function globEscape(text: string): string {
  return text.replace(/[*?[\\\]]/g, '\\$&');
}
