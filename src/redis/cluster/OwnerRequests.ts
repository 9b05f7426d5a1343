import type { Redis } from 'ioredis';
import {
  CallTimeoutError,
  isSessionError,
  type SessionSnapshot,
  type SessionSupervisor,
} from '../../index.js';
import type { Directory } from './Directory.js';
import { APPLIED_TTL_MS, type ClusterKeys } from './keys.js';
import type { Ownership } from './Ownership.js';
import type { ViewForwarders } from './RemoteViews.js';
import type { ReplyBody, RouteRequest } from './Router.js';
import { RECORD_REPLY } from './scripts.js';
import { toWire } from './wireError.js';
import type { ClusterFaultHooks } from './faults.js';

/** @internal What the owner side works with. */
export interface OwnerRequestsOptions {
  local: SessionSupervisor;
  redis: Redis;
  keys: ClusterKeys;
  ownership: Ownership;
  forwarders: ViewForwarders;
  directory: Directory;
  callTimeoutMs: number;
  /** How long an ID rotated away answers SESSION_ROTATED (the core's `rotatedIdTtlMs`). */
  rotatedIdTtlMs: number;
  /** Whether the local supervisor saves sessions (then applied request IDs are recorded). */
  persistent: boolean;
  /**
   * Whether this node is leaving (draining or shutting down) while another node is live: it
   * brings no session back into memory (the caller asks again where the session goes).
   */
  leaving(): boolean;
  /** Tests only: fault injection (a pause between the lease check and the step). */
  faults: ClusterFaultHooks;
}

/**
 * @internal The owner's side of routing: applies a request another node (or this one) sent for a
 * session this node owns, and keeps what exactly-once needs: the request IDs applied to each
 * session since its last write (written with it, in the fenced store's script) and the replies.
 */
export class OwnerRequests {
  readonly #o: OwnerRequestsOptions;
  /** Request IDs applied per session since its last write. */
  readonly #applied = new Map<string, string[]>();

  constructor(options: OwnerRequestsOptions) {
    this.#o = options;
  }

  /** The request IDs applied to `id` since its last write (the store records them with it). */
  takeApplied(id: string): string[] {
    const rids = this.#applied.get(id);
    if (!rids) return [];
    this.#applied.delete(id);
    return rids;
  }

  /** Forgets every applied ID not yet written (the node lost its sessions). */
  clear(): void {
    this.#applied.clear();
  }

  /** Applies a routed request on this node (its owner). */
  async apply(req: RouteRequest, rid: string, attempt: number): Promise<ReplyBody> {
    const { id } = req;
    const local = this.#o.local;
    if (attempt > 1 && this.#o.persistent && (req.op === 'call' || req.op === 'cast')) {
      // A retry: the request may have been applied by a previous owner before a failover.
      const prior = await this.#o.redis.hget(this.#o.keys.applied(id), rid);
      if (prior === '')
        return { err: toWire(new CallTimeoutError(id, req.event?.type ?? req.op, 0)) };
      if (prior) return JSON.parse(prior) as ReplyBody;
      if (!this.#o.ownership.owns(id)) return { m: 1 };
    }
    // A session that left this node as it drains is not brought back here: the caller asks again
    // and finds it on the node that takes it.
    if (this.#o.leaving() && !local.started(id)) return { m: 1 };
    try {
      // The session comes into memory first (a call too: the core would otherwise load it
      // between the lease check below and the step), so that nothing awaits between that check
      // and the step.
      if (
        req.op === 'call' ||
        req.op === 'cast' ||
        req.op === 'touch' ||
        req.op === 'watch' ||
        req.op === 'rename'
      )
        await local.restore(id);
      if (!this.#o.ownership.owns(id)) return { m: 1 };
      const pause = this.#o.faults.beforeStep;
      if (pause) {
        await pause(id, req.op);
        // One running copy: the lease is checked again right before the step, with nothing
        // awaited in between. A pause anywhere above (SIGSTOP, a long GC, a stalled event loop)
        // shows here on the monotonic clock; a node that lost the session meanwhile answers
        // `moved`, and the caller asks the new owner with the same ID.
        if (!this.#o.ownership.owns(id)) return { m: 1 };
      }
      // Asked again right before the step, with nothing awaited after it: the drain may have
      // taken the session out of memory while this request awaited (its restore, its applied-ID
      // lookup) with the token still held, and the step would load it again (the core's call
      // brings back a session that is not in memory), to be given up a moment later.
      if (this.#o.leaving() && !local.started(id)) return { m: 1 };
      switch (req.op) {
        case 'call': {
          const before = local.started(id) ? local.snapshot(id).version : -1;
          const p = local.call(id, req.event!, {
            timeoutMs: req.timeoutMs ?? this.#o.callTimeoutMs,
            ...(req.until ? { until: () => true } : {}),
          });
          this.markApplied(id, rid);
          const v = await p;
          const body: ReplyBody = { ok: 1, v, ...this.#snap(id) };
          // A call that changed nothing needs no record: applying it again changes nothing either.
          if (this.#o.persistent && body.x?.version !== before) this.#recordReply(id, rid, body);
          return body;
        }
        case 'cast':
          local.cast(id, req.event!);
          this.markApplied(id, rid);
          return { ok: 1 };
        case 'start':
        case 'ensure': {
          const h =
            req.op === 'start'
              ? await local.start(id, req.start)
              : await local.ensure(id, req.start);
          // The lease was lost while the store was asked (a stall): the session was stopped
          // (or left at once, without a token) before its first write. Not done here: the
          // caller asks again, where the session can be.
          if (!this.#o.ownership.owns(id)) return { m: 1 };
          return { ok: 1, l: h.logic, ...this.#snap(id) };
        }
        case 'terminate':
          await local.terminate(id);
          return { ok: 1 };
        case 'touch':
          return { ok: 1, v: local.touch(id) };
        case 'restore': {
          const exists = await local.restore(id);
          if (!exists) void this.#o.ownership.release(id).catch(() => {});
          // Lost with the lease while it loaded: asked again where it goes (`read` needs the
          // snapshot of a session that exists).
          else if (!this.#o.ownership.owns(id)) return { m: 1 };
          return { ok: 1, v: exists, ...this.#snap(id) };
        }
        case 'watch':
          this.#o.forwarders.ensure(local, id);
          return { ok: 1, ...this.#snap(id) };
        case 'rename': {
          const to = req.newId!;
          const o = await this.#o.ownership.acquire(to);
          if (!o.self)
            return {
              err: {
                code: 'SESSION_ALREADY_STARTED',
                name: 'SessionAlreadyStartedError',
                message: `Session '${to}' is already started`,
                sessionId: to,
              },
            };
          // The forwarder stays: it publishes the `ended` (rotated) that the rename sends.
          const h = await local.rename(id, to);
          // Every node must refuse the old ID for as long as this one does (a request of the same
          // browser may land anywhere): a tombstone in Redis, read when a node activates an ID.
          if (this.#o.rotatedIdTtlMs > 0)
            await this.#o.redis
              .set(this.#o.keys.rotated(id), to, 'PX', this.#o.rotatedIdTtlMs)
              .catch(() => {});
          void this.#o.directory.add(to).catch(() => {});
          void this.#o.directory.remove(id).catch(() => {});
          void this.#o.ownership.release(id).catch(() => {});
          return { ok: 1, l: h.logic, ...this.#snap(to) };
        }
      }
    } catch (err) {
      // The session left this node while the request ran (its lease lapsed): not applied
      // durably here, so the caller asks the new owner, with the same ID.
      if (isMoved(err)) return { m: 1 };
      if (isSessionError(err, 'SESSION_NOT_FOUND') && !local.started(id))
        void this.#o.ownership.release(id).catch(() => {});
      return { err: toWire(err) };
    }
  }

  #snap(id: string): { x?: SessionSnapshot } {
    if (!this.#o.local.started(id)) return {};
    const s = this.#o.local.snapshot(id);
    return { x: { value: s.value, context: s.context, status: s.status, version: s.version } };
  }

  /** Notes that `rid` was applied to `id` (it is saved with the session's next write). */
  markApplied(id: string, rid: string): void {
    if (!this.#o.persistent) return;
    const list = this.#applied.get(id);
    if (list) list.push(rid);
    else this.#applied.set(id, [rid]);
  }

  #recordReply(id: string, rid: string, body: ReplyBody): void {
    RECORD_REPLY.run(
      this.#o.redis,
      [this.#o.keys.applied(id)],
      [rid, JSON.stringify(body), APPLIED_TTL_MS],
    ).catch(() => {});
  }
}

/** @internal Whether `err` says the session left this node while the operation ran. */
export function isMoved(err: unknown): boolean {
  return isSessionError(err, 'SESSION_ENDED') && (err as { reason?: string }).reason === 'moved';
}
