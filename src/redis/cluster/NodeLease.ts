import { randomBytes } from 'node:crypto';
import { debuglog } from 'node:util';
import type { Redis } from 'ioredis';
import { ClusterError } from './errors.js';
import type { ClusterKeys } from './keys.js';
import { REGISTER, RENEW, UNREGISTER } from './scripts.js';
import type { ClusterTelemetry } from './telemetry.js';

const debug = debuglog('session-process:cluster');

/** @internal Why a node lost its lease. */
export type LossReason = 'lapsed' | 'taken' | 'data-loss' | 'disconnected';

/** @internal What the lease tells the node about. */
export interface NodeLeaseHooks {
  /** The lease lapsed, was taken, or Redis lost its data: stop every session now. */
  onLost(reason: LossReason): number;
  onError(err: unknown): void;
  /** A new incarnation holds the lease. */
  onAcquired(): void;
  /** Tests only: a renewal succeeded (a fault-injection point). */
  afterRenew?(): void;
}

/**
 * @internal The node's lease: one Redis key with a TTL of `leaseMs` holding a random incarnation,
 * renewed every `leaseMs / 3` for all of the node's sessions at once (a session's owner record
 * names the node and its incarnation, so it needs no renewal of its own).
 *
 * The node judges its lease on its own monotonic clock (`performance.now()`): it counts from the
 * moment it *sent* the last successful renewal, which Redis applied later, so the node's deadline
 * always falls before the key's expiry in Redis; a margin covers clock-rate drift. A node that was
 * paused (SIGSTOP, a long GC) finds its deadline passed when it wakes, and stops its sessions
 * before it serves anything.
 */
export class NodeLease {
  readonly nodeId: string;
  readonly leaseMs: number;
  incarnation = '';
  /** The epoch this node knows (undefined before it registered). */
  epoch: string | undefined;
  /** Live nodes, as of the last renewal. */
  liveNodes: string[] = [];
  /** A promise that settles when the lease is held (again). */
  ready: Promise<void>;
  readonly #redis: Redis;
  readonly #keys: ClusterKeys;
  readonly #hooks: NodeLeaseHooks;
  readonly #telemetry: ClusterTelemetry;
  readonly #marginMs: number;
  #held = false;
  #validUntil = 0;
  #renewTimer: NodeJS.Timeout | undefined;
  #loseTimer: NodeJS.Timeout | undefined;
  #closed = false;
  #renewing = false;
  #resolveReady: (() => void) | undefined;
  #warnedBusy = false;
  /** Tests only, off: the node never stops its sessions (the fork the checker must catch). */
  readonly #selfFencing: boolean;

  constructor(
    redis: Redis,
    keys: ClusterKeys,
    nodeId: string,
    leaseMs: number,
    telemetry: ClusterTelemetry,
    hooks: NodeLeaseHooks,
    selfFencing = true,
  ) {
    this.#selfFencing = selfFencing;
    this.#redis = redis;
    this.#keys = keys;
    this.nodeId = nodeId;
    this.leaseMs = leaseMs;
    this.#telemetry = telemetry;
    this.#hooks = hooks;
    // Redis expires the key on its own clock; the node stops earlier by this much.
    this.#marginMs = Math.min(500, Math.max(20, leaseMs / 10));
    this.ready = this.#newReady();
  }

  /** Whether the node holds its lease now, by its own monotonic clock. */
  valid(): boolean {
    if (!this.#selfFencing) return this.incarnation !== '';
    if (!this.#held) return false;
    if (performance.now() < this.#validUntil) return true;
    this.#lose('lapsed');
    return false;
  }

  /** Milliseconds the lease is still valid for (0 when not held). */
  remainingMs(): number {
    return this.#held ? Math.max(0, this.#validUntil - performance.now()) : 0;
  }

  start(): Promise<void> {
    void this.#register('');
    return this.ready;
  }

  async stop(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#renewTimer);
    clearTimeout(this.#loseTimer);
    const inc = this.incarnation;
    this.#held = false;
    try {
      await UNREGISTER.run(
        this.#redis,
        [this.#keys.node(this.nodeId), this.#keys.nodes],
        [inc, this.nodeId],
      );
    } catch (err) {
      debug('unregister failed: %o', err);
    }
  }

  #newReady(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#resolveReady = resolve;
    });
  }

  async #register(previous: string): Promise<void> {
    while (!this.#closed) {
      const inc = randomBytes(9).toString('base64url');
      const t0 = performance.now();
      try {
        const [ok, epoch, , age] = (await REGISTER.run(
          this.#redis,
          [this.#keys.node(this.nodeId), this.#keys.epoch, this.#keys.nodes],
          [inc, this.leaseMs, randomBytes(12).toString('base64url'), this.nodeId, previous],
        )) as [number, string, number, number];
        if (this.#closed) return;
        // Another epoch than the one this node ran under: Redis lost its data (a restart without
        // AOF, FLUSHDB) while this node's connections were down, so no renewal could tell it.
        if (this.epoch !== undefined && this.epoch !== epoch) this.#reportDataLoss(0);
        this.epoch = epoch;
        if (ok === 1 && age < this.leaseMs) {
          // A young epoch: the cluster is new, or Redis came back empty while other nodes still
          // run sessions they took under the old one. Those cannot renew under the new epoch, so
          // they stop them by their own deadlines, within leaseMs of the loss (which came before
          // the epoch): serve nothing before the epoch is leaseMs old, or a session could start
          // here from the empty store beside its live copy there. Every node waits so, those
          // that re-register at once after a restart too, not only the one that made the epoch.
          previous = inc;
          await sleep(this.leaseMs - Math.max(0, age));
          continue;
        }
        if (ok === 1) {
          this.epoch = epoch;
          this.incarnation = inc;
          this.#held = true;
          this.#warnedBusy = false;
          this.#extend(t0);
          this.#hooks.onAcquired();
          this.#resolveReady?.();
          this.#resolveReady = undefined;
          this.#scheduleRenew();
          debug('node %s holds its lease (incarnation %s)', this.nodeId, inc);
          return;
        }
        if (!this.#warnedBusy) {
          this.#warnedBusy = true;
          this.#hooks.onError(
            new ClusterError(
              'NODE_ID_IN_USE',
              this.nodeId,
              `Node ID '${this.nodeId}' is held by a live process; waiting for its lease to lapse`,
            ),
          );
        }
      } catch (err) {
        debug('register failed: %o', err);
      }
      await sleep(Math.max(10, this.leaseMs / 6));
    }
  }

  #scheduleRenew(): void {
    clearTimeout(this.#renewTimer);
    this.#renewTimer = setTimeout(() => void this.#renew(), this.leaseMs / 3);
    this.#renewTimer.unref?.();
  }

  #extend(sentAt: number): void {
    this.#validUntil = sentAt + this.leaseMs - this.#marginMs;
    clearTimeout(this.#loseTimer);
    this.#loseTimer = setTimeout(() => this.valid(), this.#validUntil - performance.now() + 1);
    this.#loseTimer.unref?.();
  }

  async #renew(): Promise<void> {
    if (this.#closed || !this.#held || this.#renewing) return;
    // The renewal timer is also the node's pause detector: when it fires late (SIGSTOP, a long
    // GC, a starved event loop), the lease is judged at once, before anything else runs on it.
    if (!this.valid()) return;
    this.#renewing = true;
    const inc = this.incarnation;
    const t0 = performance.now();
    try {
      const [status, detail] = (await RENEW.run(
        this.#redis,
        [this.#keys.node(this.nodeId), this.#keys.epoch, this.#keys.nodes],
        [inc, this.leaseMs, this.epoch ?? '', this.nodeId],
      )) as [number, string[] | string];
      if (this.#closed || inc !== this.incarnation || !this.#held) return;
      if (status === 1) {
        // A renewal that came back after the deadline does not count: the node may already have
        // been judged gone by others' clocks.
        if (performance.now() >= this.#validUntil) {
          this.#lose('lapsed');
          return;
        }
        this.#extend(t0);
        this.liveNodes = detail as string[];
        this.#hooks.afterRenew?.();
        if (this.#telemetry.active('lease'))
          this.#telemetry.emit('lease', {
            type: 'renew',
            nodeId: this.nodeId,
            durationMs: performance.now() - t0,
          });
      } else if (status === -2) {
        this.#lose('data-loss');
        return;
      } else {
        this.#lose('taken');
        return;
      }
    } catch (err) {
      debug('renew failed: %o', err);
    } finally {
      this.#renewing = false;
    }
    if (this.#held) this.#scheduleRenew();
  }

  /**
   * Gives the lease up at once: the node's subscriber connection closed, so other nodes may
   * already take its sessions (they check that nothing listens on its channel).
   */
  drop(reason: LossReason): void {
    this.#lose(reason);
  }

  #lose(reason: LossReason): void {
    if (!this.#held) return;
    this.#held = false;
    clearTimeout(this.#renewTimer);
    clearTimeout(this.#loseTimer);
    const previous = this.incarnation;
    this.ready = this.#newReady();
    const stopped = this.#selfFencing ? this.#hooks.onLost(reason) : 0;
    if (reason === 'data-loss') {
      this.epoch = undefined;
      this.#reportDataLoss(stopped);
    } else {
      this.#telemetry.emit('lease', { type: 'lose', nodeId: this.nodeId, sessions: stopped });
      this.#hooks.onError(
        new ClusterError(
          'LEASE_LOST',
          this.nodeId,
          `Node '${this.nodeId}' lost its lease (${reason}); it stopped its ${stopped} session(s)`,
        ),
      );
    }
    if (this.#closed) return;
    if (reason === 'data-loss') {
      // Nodes that have not noticed yet still run sessions under the old epoch until their own
      // deadlines, at most leaseMs from now: come back after those.
      void sleep(this.leaseMs).then(() => {
        if (!this.#closed) void this.#register(previous);
      });
    } else void this.#register(previous);
  }

  #reportDataLoss(stopped: number): void {
    this.#telemetry.emit('lease', { type: 'data-loss', nodeId: this.nodeId, sessions: stopped });
    this.#hooks.onError(
      new ClusterError(
        'REDIS_DATA_LOSS',
        this.nodeId,
        'Redis lost the cluster data (restarted without AOF, or flushed): this node stopped its ' +
          `${stopped} session(s) rather than run them beside copies started from an empty store`,
      ),
    );
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref?.());
}
