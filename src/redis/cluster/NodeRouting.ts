import { SessionNotFoundError, type SessionSnapshot } from '../../index.js';
import type { ClusterWide } from './ClusterWide.js';
import type { Directory } from './Directory.js';
import type { Evictable } from './LocalSessions.js';
import type { NodeLease } from './NodeLease.js';
import type { NodeVersions } from './NodeVersions.js';
import type { Ownership } from './Ownership.js';
import type { ReplyBody, RouteRequest, Router } from './Router.js';
import { fromWire, type WireError } from './wireError.js';

/** @internal What a node's routing works with. */
export interface NodeRoutingParts {
  local: Evictable;
  router: Router;
  wide: ClusterWide;
  versions: NodeVersions;
  lease: NodeLease;
  ownership: Ownership;
  directory: Directory;
  callTimeoutMs: number;
  /** The node's state, by its one writer (the node's drain and shutdown). */
  state(): { draining: boolean; closed: boolean; stopped: boolean };
  /** Whether `id` runs here under the node's lease. */
  here(id: string): boolean;
  /** Waits (bounded) until the node may serve; STORE_UNAVAILABLE when it cannot reach Redis. */
  whenReady(id: string, withinMs: number): Promise<void>;
  /** Keeps what an answer said of a session (its snapshot, its logic), for `snapshot()`. */
  see(
    id: string,
    seen: { snapshot?: SessionSnapshot | undefined; logic?: string | undefined },
  ): void;
}

/**
 * @internal Where a node sends an operation on a session: to its owner (taking it when nobody
 * owns it), to another node while this one drains or shuts down, to a node that holds the
 * version a newer record needs; each path under the operation's one idempotency ID. Also the
 * sweep's step for one stored record of an older version.
 */
export class NodeRouting {
  readonly #p: NodeRoutingParts;
  /** Operations handed on during the shutdown: it waits for their answers before it stops. */
  readonly #handing = new Set<Promise<ReplyBody | undefined>>();

  constructor(parts: NodeRoutingParts) {
    this.#p = parts;
  }

  /** Resolves once every operation handed on during the shutdown has its answer. */
  async handed(): Promise<void> {
    while (this.#handing.size) await Promise.allSettled([...this.#handing]);
  }

  async route(req: RouteRequest, ttlMs: number, rid?: string, tried = 0): Promise<ReplyBody> {
    const { router, wide } = this.#p;
    // One idempotency ID wherever the operation goes (another node when this one drains, a node
    // holding a newer version), so that no path applies it twice.
    const id = rid ?? router.newRid();
    let body: ReplyBody | undefined;
    if (this.#p.state().closed) {
      // Shutting down after a drain (SIGTERM): a request already on its way when the node was
      // told to stop goes on to another node while this one still listens; otherwise, and after
      // the shutdown, this node serves nothing.
      const state = this.#p.state();
      if (state.draining && !state.stopped && wide.canForward()) {
        const handing = wide.forward(req, ttlMs, id, tried);
        this.#handing.add(handing);
        body = await handing.finally(() => this.#handing.delete(handing));
      }
      if (!body) throw new SessionNotFoundError(req.id);
    } else {
      // A node that cannot reach Redis answers within the operation's time, not never.
      await this.#p.whenReady(req.id, ttlMs);
      body =
        this.#p.state().draining && !this.#p.here(req.id) && wide.canForward()
          ? ((await wide.forward(req, ttlMs, id, tried)) ??
            (await router.send(req, ttlMs, id, tried)))
          : await router.send(req, ttlMs, id, tried);
    }
    if (body.err?.code === 'SESSION_VERSION_AHEAD')
      body = await this.#toHolder(req, ttlMs, body, id, tried);
    if (body.x || body.l)
      this.#p.see(req.op === 'rename' ? req.newId! : req.id, { snapshot: body.x, logic: body.l });
    if (body.err) throw fromWire(body.err);
    return body;
  }

  /**
   * An operation another node handed to this one (it drains, or it found a record newer than its
   * code), routed as this node's own under the asker's ID. When the owner it reaches answers
   * SESSION_VERSION_AHEAD for a record this node's code holds, that owner is older code that
   * took the session to try it and is giving it up again: asked again, until the deadline.
   */
  async routeHanded(req: RouteRequest, ttlMs: number, rid?: string, tried = 0): Promise<ReplyBody> {
    const until = performance.now() + ttlMs;
    const id = rid ?? this.#p.router.newRid();
    for (let attempt = tried; ; attempt++) {
      const left = until - performance.now();
      const body = await this.#p.router.send(req, Math.max(1, left), id, attempt);
      if (body.err?.code !== 'SESSION_VERSION_AHEAD' || until - performance.now() < 50) return body;
      const rec = await this.#p.versions.recordOf(req.id).catch(() => undefined);
      if (!rec || !this.#p.versions.held[rec.logic]?.includes(rec.version)) return body;
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /**
   * A session whose record a newer version wrote cannot run here (nor on the node that answered):
   * it goes to a live node that holds that version, which activates it. With none, the error
   * stands; with one that did not answer in time, it says when to try again (`retryAfterMs`:
   * the Koa middleware answers 503 with `Retry-After`).
   */
  async #toHolder(
    req: RouteRequest,
    ttlMs: number,
    body: ReplyBody,
    rid: string,
    tried: number,
  ): Promise<ReplyBody> {
    const { versions, wide, lease } = this.#p;
    const rec = await versions.recordOf(req.id).catch(() => undefined);
    const holders = rec ? await versions.holders(rec.logic, rec.version).catch(() => []) : [];
    let reached = false;
    for (const node of holders) {
      // Under the operation's own ID: a holder that took it and did not answer in time may have
      // applied it, and the next one asked must not apply it again.
      const a = await wide.queries.send<ReplyBody>(
        node,
        { q: 'op', req, ttlMs, rid, tried: reached ? tried + 1 : tried },
        ttlMs + Math.max(250, lease.leaseMs / 3),
      );
      if ('value' in a && a.value) return a.value;
      if ('reached' in a && a.reached) reached = true;
    }
    if (!reached || !body.err) return body;
    const err: WireError = { ...body.err, retryAfterMs: Math.max(1_000, lease.leaseMs) };
    return { err };
  }

  /**
   * The owner's answer, after this node found it cannot run the session (a newer version wrote
   * it): the ownership it took to try goes, so that a node holding that version may take it.
   */
  async notMine(id: string, body: ReplyBody): Promise<ReplyBody> {
    if (body.err?.code === 'SESSION_VERSION_AHEAD' && !this.#p.local.started(id))
      await this.#p.ownership.release(id).catch(() => {});
    return body;
  }

  /**
   * The sweep's step for one stored session of an older version: restored here (which migrates
   * it and saves it at the new version), then out of memory and given up again.
   */
  async migrateStored(id: string): Promise<boolean> {
    const { local, ownership } = this.#p;
    if (local.started(id)) return false; // running here: written at this version already
    const restored = await this.route({ op: 'restore', id }, this.#p.callTimeoutMs).then(
      (body) => body.v === true,
      () => false,
    );
    if (!restored || !this.#p.here(id)) return false;
    this.#p.directory.learn(id);
    const left =
      (await (local as { passivate?(id: string): Promise<boolean> }).passivate?.(id)) === true;
    if (left && !local.started(id)) await ownership.release(id).catch(() => {});
    return left;
  }
}
