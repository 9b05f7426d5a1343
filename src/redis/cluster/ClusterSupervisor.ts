import type { EventObject } from 'xstate';
import {
  type CallOptions,
  Handle,
  isSessionError,
  isValidSessionId,
  type ListOptions,
  type QuarantinedSession,
  type SessionHandle,
  type SessionMessage,
  SessionNotFoundError,
  type SessionPage,
  type SessionPresence,
  type SessionSnapshot,
  type SessionVersionCount,
  type StartOptions,
  StoreUnavailableError,
  type SubscribeOptions,
  type SupervisorOptions,
  type TelemetryName,
} from '../../index.js';
import { ClusterNode, type ClusterNodeSettings, type LocalFactory } from './ClusterNode.js';
import { checkEvent, checkId, LocalSessions } from './LocalSessions.js';
import { isMoved } from './OwnerRequests.js';
import { takeSharedStart } from './presence.js';
import { remoteCallUntil } from './remoteCallUntil.js';
import { isClusterTelemetryName } from './telemetry.js';
import type { ClusterSessionSupervisor, ClusterSupervisorStats } from './types.js';

export type { ClusterNodeSettings } from './ClusterNode.js';

/**
 * @internal One node of the cluster: a {@link SessionSupervisor} for every session ID, wrapping
 * the supervisor of the sessions this node owns. An operation on a session this node owns runs
 * here directly; any other is routed to the owner (taking the session first when nobody owns it).
 * The node's machinery (connections, lease, ownership, routing, views, sweep, drain) is its
 * {@link ClusterNode}; this class is the `SessionSupervisor` it serves.
 */
export class ClusterSupervisor extends LocalSessions implements ClusterSessionSupervisor {
  readonly #n: ClusterNode;
  /** Some sessions run on other nodes (the Koa middleware then restores each request's). */
  readonly distributed = true;

  constructor(
    options: Omit<SupervisorOptions, 'cluster'>,
    createLocal: LocalFactory,
    s: ClusterNodeSettings,
  ) {
    super();
    this.#n = new ClusterNode(options, createLocal, s, { see: (id, seen) => this.see(id, seen) });
    this.local = this.#n.local;
  }

  /** Resolves when this node holds its lease (operations wait for it by themselves). */
  get ready(): Promise<void> {
    return this.#n.ready;
  }

  // ---- SessionSupervisor ---------------------------------------------------------------------

  async start<TContext = any>(
    id: string,
    options: StartOptions = {},
  ): Promise<SessionHandle<TContext>> {
    checkId(id);
    await this.#n.routing.route({ op: 'start', id, start: options }, this.#n.callTimeoutMs);
    return new Handle(this, id);
  }

  async ensure<TContext = any>(
    id: string,
    options: StartOptions = {},
  ): Promise<SessionHandle<TContext>> {
    checkId(id);
    if (this.#n.here(id)) return new Handle(this, id);
    await this.#n.routing.route({ op: 'ensure', id, start: options }, this.#n.callTimeoutMs);
    this.#n.directory.learn(id);
    return new Handle(this, id);
  }

  async restore(id: string): Promise<boolean> {
    checkId(id);
    if (this.#n.here(id)) return true;
    try {
      const body = await this.#n.routing.route({ op: 'restore', id }, this.#n.callTimeoutMs);
      // The owner says it exists: `started`/`touch` here must agree at once, not only once the
      // directory's announcement arrives (a Koa request checks them right after).
      if (body.v === true) this.#n.directory.learn(id);
      return body.v === true;
    } catch (err) {
      if (isSessionError(err, 'SESSION_NOT_FOUND')) return false;
      throw err;
    }
  }

  started(id: string): boolean {
    return typeof id === 'string' && (this.local.started(id) || this.#n.directory.has(id));
  }

  get<TContext = any>(id: string): SessionHandle<TContext> | undefined {
    return this.started(id) ? new Handle(this, id) : undefined;
  }

  async call<T = unknown, TContext = any>(
    id: string,
    event: EventObject,
    options: CallOptions<TContext> = {},
  ): Promise<T> {
    if (this.#n.here(id)) {
      // Exactly once on the fast path too: the call has its idempotency ID from this first
      // attempt. A call that changed the session has the ID saved with the step's snapshot, in
      // the fenced script, as a routed call has. When the session leaves this node while the
      // call waits for that save (the lease lapsed: a GC pause, CPU starvation), the call is
      // asked again where the session went under the same ID, as a retry: if the save landed,
      // the new owner finds the ID and answers CALL_TIMEOUT (applied, reply unknown), never
      // applies it a second time; if it did not, the call is applied there, once.
      const rid = this.#n.router.newRid();
      const before = this.local.snapshot(id).version;
      const pending = this.local.call<T, TContext>(id, event, options);
      if (this.local.started(id) && this.local.snapshot(id).version !== before)
        this.#n.owner.markApplied(id, rid);
      return pending.catch((err: unknown) =>
        isMoved(err) ? this.#remoteCall<T>(id, event, options, rid) : Promise.reject(err),
      );
    }
    return this.#remoteCall<T>(id, event, options);
  }

  /** `rid`: the ID of a first attempt made on this node's fast path (the retries reuse it). */
  async #remoteCall<T>(
    id: string,
    event: EventObject,
    options: CallOptions,
    rid?: string,
  ): Promise<T> {
    checkEvent(id, event);
    const timeoutMs = options.timeoutMs ?? this.#n.callTimeoutMs;
    const until = options.until;
    const tried = rid === undefined ? 0 : 1;
    if (!until) {
      const body = await this.#n.routing.route(
        { op: 'call', id, event, timeoutMs },
        timeoutMs,
        rid,
        tried,
      );
      return body.v as T;
    }
    const untilRid = rid ?? this.#n.router.newRid();
    return remoteCallUntil<T>(
      this.#n.views,
      () =>
        this.#n.routing.route(
          { op: 'call', id, event, timeoutMs, until: 1 },
          timeoutMs,
          untilRid,
          tried,
        ),
      this.mirror.get(id)?.snapshot,
      id,
      event,
      timeoutMs,
      until as (s: SessionSnapshot) => boolean,
    );
  }

  cast(id: string, event: EventObject): void {
    if (this.#n.here(id)) {
      this.local.cast(id, event);
      return;
    }
    checkEvent(id, event);
    if (!this.started(id)) throw new SessionNotFoundError(id);
    this.#n.routing
      .route({ op: 'cast', id, event }, this.#n.callTimeoutMs)
      .catch((err) => this.#n.report(err, id));
  }

  snapshot<TContext = any>(id: string): SessionSnapshot<TContext> {
    if (this.#n.here(id)) return this.local.snapshot<TContext>(id);
    checkId(id);
    const seen = this.mirror.get(id)?.snapshot;
    if (seen && this.started(id)) return seen as SessionSnapshot<TContext>;
    throw new SessionNotFoundError(id);
  }

  async read<TContext = any>(id: string): Promise<SessionSnapshot<TContext>> {
    if (this.#n.here(id)) return this.local.snapshot<TContext>(id);
    checkId(id);
    // The owner answers with the snapshot it holds now (an unowned stored session is activated,
    // as by any operation on it).
    const body = await this.#n.routing.route({ op: 'restore', id }, this.#n.callTimeoutMs);
    if (body.v !== true || !body.x) throw new SessionNotFoundError(id);
    this.#n.directory.learn(id);
    return body.x as SessionSnapshot<TContext>;
  }

  async status(id: string): Promise<SessionPresence> {
    checkId(id);
    if (this.local.started(id)) return 'running';
    await this.#n.whenReady(id);
    try {
      return await this.#n.wide.status(id);
    } catch (err) {
      throw new StoreUnavailableError(err, id);
    }
  }

  listAll(options?: ListOptions): Promise<SessionPage> {
    return this.#n.wide.listAll(options);
  }

  async takeClientStart(client: string, limit: number, intervalMs: number): Promise<number> {
    try {
      return await takeSharedStart(this.#n.redis, this.#n.keys, client, limit, intervalMs);
    } catch (err) {
      throw new StoreUnavailableError(err);
    }
  }

  /**
   * Hands this node's sessions to the others: from now on it activates none (operations that
   * would are forwarded to another live node, due sessions are left to them); each session in
   * memory is saved and leaves once its waiting calls are answered, its lease is given up, and its
   * watchers on every node are told to watch again, which activates it on another node at once.
   */
  drain(options: { timeoutMs?: number } = {}): Promise<number> {
    return this.#n.drain(options);
  }

  subscribe<TContext = any, TSelected = unknown>(
    id: string,
    listener: (message: SessionMessage<TContext, TSelected>) => void,
    options: SubscribeOptions<TContext, TSelected> = {},
  ): () => void {
    checkId(id);
    if (!this.started(id)) throw new SessionNotFoundError(id);
    const current = this.#n.here(id) ? this.local.snapshot(id) : this.mirror.get(id)?.snapshot;
    return this.#n.views.subscribe(
      id,
      listener as (m: SessionMessage) => void,
      options as SubscribeOptions,
      current,
    );
  }

  /** @internal Owned by this node and in its memory: the in-process supervisor's own check. */
  touchResident(id: string): boolean {
    return this.#n.here(id) && this.local.touchResident?.(id) === true;
  }

  touch(id: string): boolean {
    if (this.#n.here(id)) return this.local.touch(id);
    if (!isValidSessionId(id) || !this.#n.directory.has(id)) return false;
    this.#n.routing.route({ op: 'touch', id }, this.#n.callTimeoutMs).catch(() => {});
    return true;
  }

  /** Stored sessions of every node (the store is shared) and the sessions running on this one. */
  versions(): Promise<SessionVersionCount[]> {
    return this.local.versions();
  }

  stats(): ClusterSupervisorStats {
    const local = this.local.stats();
    return {
      ...local,
      subscribers: local.subscribers + this.#n.views.subscriberCount,
      cluster: {
        nodeId: this.#n.lease.nodeId,
        nodes: [...this.#n.lease.liveNodes].sort(),
        leaseHeld: this.#n.lease.valid(),
        owned: this.#n.ownership.tokens.size,
        known: this.#n.directory.size,
      },
    };
  }

  async terminate(id: string): Promise<void> {
    if (this.#n.here(id)) return this.local.terminate(id);
    checkId(id);
    await this.#n.routing.route({ op: 'terminate', id }, this.#n.callTimeoutMs);
  }

  async rename(id: string, newId: string): Promise<SessionHandle> {
    checkId(id);
    checkId(newId);
    await this.#n.routing.route({ op: 'rename', id, newId }, this.#n.callTimeoutMs);
    return new Handle(this, newId);
  }

  /** The quarantine is the shared store's: any node lists it (the local supervisor reads it). */
  quarantined(): Promise<QuarantinedSession[]> {
    return this.local.quarantined();
  }

  /**
   * This node's part: its own session, a record it holds the lease of, and any quarantined
   * record (nobody runs one).
   */
  forget(id: string): Promise<void> {
    return this.local.forget(id);
  }

  shutdown(): Promise<void> {
    return this.#n.shutdown();
  }

  // The overloads are ClusterSessionSupervisor's (types.ts); this signature serves them both.
  on(name: string, listener: (event: any) => void): () => void {
    if (isClusterTelemetryName(name)) return this.#n.telemetry.on(name, listener);
    return this.local.on(name as TelemetryName, listener);
  }
}
