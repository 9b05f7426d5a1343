import type { Redis } from 'ioredis';
import type { ClusterKeys } from './keys.js';
import type { NodeLease } from './NodeLease.js';
import { MOVED_WIRE } from './RemoteViews.js';
import { ACQUIRE, RELEASE } from './scripts.js';
import type { ClusterFaultHooks } from './faults.js';
import type { ClusterTelemetry } from './telemetry.js';

/** @internal Where a session lives, as far as this node can tell. */
export type Owner = { self: true; token: string } | { self: false; nodeId: string };

/**
 * @internal The sessions this node owns, each with its fencing token, and the Redis side of taking
 * and giving them up. A token is `node|incarnation|counter`: it never repeats (the incarnation is
 * random per lease), and the fenced store writes only while Redis still holds it.
 */
export class Ownership {
  /** Session ID to this node's token, for the sessions it owns. */
  readonly tokens = new Map<string, string>();
  readonly #redis: Redis;
  readonly #keys: ClusterKeys;
  readonly #lease: NodeLease;
  readonly #telemetry: ClusterTelemetry;
  #counter = 0;
  /** Sessions owned but out of memory at the last sweep. */
  readonly #away = new Set<string>();

  readonly #taken: (id: string) => void;
  readonly #faults: ClusterFaultHooks;
  #generation = 0;

  /** `taken`: a session was taken from another node (its watchers are told, see {@link moved}). */
  constructor(
    redis: Redis,
    keys: ClusterKeys,
    lease: NodeLease,
    telemetry: ClusterTelemetry,
    taken: (id: string) => void = () => {},
    faults: ClusterFaultHooks = {},
  ) {
    this.#taken = taken;
    this.#faults = faults;
    this.#redis = redis;
    this.#keys = keys;
    this.#lease = lease;
    this.#telemetry = telemetry;
  }

  /** A new token prefix and counter range for `n` acquisitions (the `due` script takes several). */
  reserve(n: number): { prefix: string; first: number } {
    const first = this.#counter + 1;
    this.#counter += n;
    return { prefix: `${this.#lease.nodeId}|${this.#lease.incarnation}|`, first };
  }

  /**
   * Counts the times this node forgot its tokens ({@link clear}: its lease was lost). A token
   * asked for before a clear and answered after it belongs to the lost lease: see {@link taking}.
   */
  get generation(): number {
    return this.#generation;
  }

  /**
   * Whether tokens asked of Redis when the node was at `incarnation` and `generation` may be
   * recorded now: the lease they were taken under is still the node's, held, and it was not lost
   * meanwhile (a token of a lost incarnation would look valid to this node alone once it
   * registered again, while every other node may take the session: two running copies).
   */
  taking(incarnation: string, generation: number): boolean {
    return (
      incarnation === this.#lease.incarnation &&
      generation === this.#generation &&
      this.#lease.valid()
    );
  }

  /** Whether this node owns `id` and may act on it now. */
  owns(id: string): boolean {
    return this.tokens.has(id) && this.#lease.valid();
  }

  /**
   * Takes `id` for this node unless a live node owns it (`gone`: a node a publish did not reach,
   * taken as dead when Redis confirms nothing listens on its channel). Resolves with the owner;
   * rejects when Redis does not answer.
   */
  async acquire(id: string, gone = ''): Promise<Owner> {
    for (;;) {
      await this.#lease.ready;
      const mine = this.tokens.get(id);
      if (mine !== undefined && this.#lease.valid()) return { self: true, token: mine };
      const { prefix, first } = this.reserve(1);
      const token = `${prefix}${first}`;
      const inc = this.#lease.incarnation;
      const generation = this.#generation;
      const t0 = performance.now();
      const asked = ACQUIRE.run(
        this.#redis,
        [this.#keys.owner(id), this.#keys.node(this.#lease.nodeId)],
        [this.#keys.node(''), token, inc, this.#lease.nodeId, gone, this.#keys.channel('')],
      );
      this.#faults.afterAcquireSent?.(id);
      const res = (await asked) as [number, string?, string?];
      const status = res[0];
      // The lease was lost (and maybe registered again) while the script was out: what it
      // answered belongs to the lease before; ask again under the current one.
      if (inc !== this.#lease.incarnation || generation !== this.#generation) continue;
      if (status === -1) {
        // Redis no longer holds our lease (it lapsed, or Redis lost it): others may take our
        // sessions now, so stop them now rather than at the next renewal; then ask again.
        this.#lease.drop('lapsed');
        continue;
      }
      if (status === 0) return { self: false, nodeId: nodeOf(res[1]!) };
      // Lapsed by this node's clock meanwhile (not noticed yet: this check stops its sessions).
      if (!this.taking(inc, generation)) continue;
      const held = res[1]!;
      this.tokens.set(id, held);
      // Taken from another node (a failover): its watchers on every node watch again now, here,
      // rather than at their next re-watch (a dead owner could not tell them).
      if (status === 2 && res[2]) this.moved(id);
      if (status === 2 && this.#telemetry.active('lease')) {
        const previous = res[2] ? nodeOf(res[2]) : undefined;
        this.#telemetry.emit('lease', {
          type: previous === undefined ? 'acquire' : 'takeover',
          nodeId: this.#lease.nodeId,
          sessionId: id,
          durationMs: performance.now() - t0,
          ...(previous === undefined ? {} : { previousOwner: previous }),
        });
      }
      return { self: true, token: held };
    }
  }

  /**
   * `id` moved here from another node: the node starts forwarding it to its watchers (with its
   * current snapshot), and tells them to watch again (their view anchors on this owner).
   */
  moved(id: string): void {
    this.#taken(id);
    void this.#redis.publish(this.#keys.view(id), MOVED_WIRE).catch(() => {});
  }

  /** Gives `id` up (it ended here, or moved to a new ID). */
  async release(id: string): Promise<void> {
    const token = this.tokens.get(id);
    if (token === undefined) return;
    this.tokens.delete(id);
    await RELEASE.run(this.#redis, [this.#keys.owner(id)], [token]);
    if (this.#telemetry.active('lease'))
      this.#telemetry.emit('lease', { type: 'release', nodeId: this.#lease.nodeId, sessionId: id });
  }

  /**
   * Gives up the sessions that were out of this node's memory at this sweep and the one before
   * (passivated and not used since): their owner records go, so the tokens do not pile up for the
   * life of the node; the next use takes such a session again, on whichever node needs it.
   */
  async sweep(resident: (id: string) => boolean): Promise<number> {
    const idle: string[] = [];
    for (const id of this.tokens.keys()) {
      if (resident(id)) this.#away.delete(id);
      else if (this.#away.has(id)) idle.push(id);
      else this.#away.add(id);
    }
    for (const id of this.#away) if (!this.tokens.has(id)) this.#away.delete(id);
    for (const id of idle) {
      this.#away.delete(id);
      // Asked again right before each release: a session that came back into memory while an
      // earlier release was awaited keeps its token (a resident session without one would be a
      // second copy once another node takes it).
      if (resident(id)) continue;
      await this.release(id);
    }
    return idle.length;
  }

  /** Forgets every session (the lease is gone: the tokens are worthless now). */
  clear(): string[] {
    this.#generation++;
    const ids = [...this.tokens.keys()];
    this.tokens.clear();
    return ids;
  }
}

/** @internal The node ID of an owner record `node|incarnation|counter`. */
export function nodeOf(record: string): string {
  const i = record.indexOf('|');
  return i < 0 ? record : record.slice(0, i);
}
