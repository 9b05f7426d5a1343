import { debuglog } from 'node:util';
import type { Redis } from 'ioredis';
import type { EventObject } from 'xstate';
import {
  type CallOptions,
  Handle,
  isSessionError,
  isValidSessionId,
  type QuarantinedSession,
  type SessionHandle,
  type ListOptions,
  type SessionMessage,
  SessionNotFoundError,
  type SessionPage,
  type SessionPresence,
  StoreUnavailableError,
  type SessionSnapshot,
  type SessionSupervisor,
  type SessionVersionCount,
  type StartOptions,
  type SubscribeOptions,
  type SupervisorOptions,
  type TelemetryName,
} from '../../index.js';
import { remoteCallUntil } from './remoteCallUntil.js';
import { isMoved, OwnerRequests } from './OwnerRequests.js';
import type { ClusterSessionSupervisor, ClusterSupervisorStats } from './types.js';
import { warnIfNotDurable } from './warnIfNotDurable.js';
import { Directory } from './Directory.js';
import { fencedStore } from './fencedStore.js';
import type { ClusterKeys } from './keys.js';
import { NodeLease } from './NodeLease.js';
import { Ownership } from './Ownership.js';
import { RemoteViews, ViewForwarders } from './RemoteViews.js';
import { type ReplyBody, type RouteRequest, Router } from './Router.js';
import { ClusterTelemetry, isClusterTelemetryName } from './telemetry.js';
import { checkEvent, checkId, type Evictable, LocalSessions } from './LocalSessions.js';
import { onRenewals } from './onRenewals.js';
import { fromWire } from './wireError.js';
import { isClusterError } from './errors.js';
import type { ClusterFaultHooks } from './faults.js';
import { ClusterWide } from './ClusterWide.js';
import { takeSharedStart } from './presence.js';
import { heldVersions, NodeVersions } from './NodeVersions.js';
import { MigrationSweep } from './MigrationSweep.js';
import type { WireError } from './wireError.js';

const debug = debuglog('session-process:cluster');

/** @internal Settings of one node. */
export interface ClusterNodeSettings {
  redis: Redis;
  keys: ClusterKeys;
  nodeId: string;
  leaseMs: number;
  /** The migration sweep's rate (records per second; 0: off). */
  sweepPerSecond: number;
  unfenced: boolean;
  /** Tests only: fault injection points (see {@link ClusterFaultHooks}). */
  faults: ClusterFaultHooks;
}

type LocalFactory = (options: Omit<SupervisorOptions, 'cluster'>) => SessionSupervisor;

/**
 * @internal One node of the cluster: a {@link SessionSupervisor} for every session ID, wrapping
 * the supervisor of the sessions this node owns. An operation on a session this node owns runs
 * here directly; any other is routed to the owner (taking the session first when nobody owns it).
 */
export class ClusterSupervisor extends LocalSessions implements ClusterSessionSupervisor {
  readonly #redis: Redis;
  readonly #sub: Redis;
  readonly #leaseRedis: Redis;
  readonly #keys: ClusterKeys;
  readonly #telemetry: ClusterTelemetry;
  readonly #lease: NodeLease;
  readonly #ownership: Ownership;
  readonly #router: Router;
  readonly #views: RemoteViews;
  readonly #forwarders: ViewForwarders;
  readonly #directory: Directory;
  readonly #onError: NonNullable<SupervisorOptions['onError']>;
  readonly #callTimeoutMs: number;
  /** Some sessions run on other nodes (the Koa middleware then restores each request's). */
  readonly distributed = true;
  readonly #owner: OwnerRequests;
  readonly #ready: Promise<void>;
  readonly #offLocal: (() => void)[] = [];
  readonly #wide: ClusterWide;
  readonly #versions: NodeVersions;
  readonly #sweep: MigrationSweep;
  /** Set by `drain()`: this node activates no session any more; others take its operations. */
  #draining = false;
  #closed = false;
  /** Set by `shutdown()` once the node stops listening (nothing can be forwarded any more). */
  #stopped = false;
  /** Operations handed on during the shutdown: it waits for their answers before it stops. */
  readonly #handing = new Set<Promise<ReplyBody | undefined>>();
  /**
   * From when a node that nothing listens for may be taken as dead before its lease lapses
   * (performance.now()). Right after a Redis restart nothing listens for any node: a live node
   * whose event loop lags has not yet seen its subscriber connection close (so it still runs its
   * sessions), and would look dead. For `leaseMs` after this node's subscriber connection comes
   * back, or after it finds Redis just started, sessions move by their leases alone.
   */
  #presumeGoneAfter = Number.POSITIVE_INFINITY;
  #subConnected = false;

  constructor(
    options: Omit<SupervisorOptions, 'cluster'>,
    createLocal: LocalFactory,
    s: ClusterNodeSettings,
  ) {
    super();
    this.#redis = s.redis;
    this.#keys = s.keys;
    this.#callTimeoutMs = options.callTimeoutMs ?? 5_000;
    this.#onError =
      options.onError ??
      ((error, info) =>
        console.error(`[session-process] ${info.source} in ${info.sessionId ?? '-'}:`, error));
    // A telemetry listener's own failure goes to onError as it is (as the core's listeners' do).
    this.#telemetry = new ClusterTelemetry((err) => this.#report(err, undefined, true));
    const name = s.redis.options.connectionName;
    // The lease renews on a connection of its own: behind a burst of calls on the shared one,
    // a renewal would wait its turn past the lease's deadline.
    this.#leaseRedis = s.redis.duplicate(name ? { connectionName: `${name}:lease` } : {});
    this.#lease = new NodeLease(
      this.#leaseRedis,
      s.keys,
      s.nodeId,
      s.leaseMs,
      this.#telemetry,
      {
        onLost: () => this.#fence(),
        onError: (err) => this.#report(err),
        onAcquired: () => {},
        ...(s.faults.afterRenew ? { afterRenew: s.faults.afterRenew } : {}),
      },
      !s.unfenced,
    );
    this.#ownership = new Ownership(
      s.redis,
      s.keys,
      this.#lease,
      this.#telemetry,
      (id) => this.#taken(id),
      s.faults,
    );
    const store = fencedStore(s.redis, s.keys, this.#lease, this.#ownership, {
      onFenced: (id) => this.#lostSession(id),
      takeApplied: (id) => this.#owner.takeApplied(id),
      resident: (id) => this.local.started(id),
      unfenced: s.unfenced,
      faults: s.faults,
    });
    // A draining node wakes no due session: a node that stays takes it.
    const due = store.due.bind(store);
    store.due = (until, limit) => (this.#draining ? Promise.resolve([]) : due(until, limit));
    this.local = createLocal({ ...options, store, clock: this.#leasedClock(options.clock) });
    this.#directory = new Directory(s.redis, s.keys);
    this.#forwarders = new ViewForwarders(s.redis, s.keys);
    this.#owner = new OwnerRequests({
      local: this.local,
      redis: s.redis,
      keys: s.keys,
      ownership: this.#ownership,
      forwarders: this.#forwarders,
      directory: this.#directory,
      callTimeoutMs: this.#callTimeoutMs,
      rotatedIdTtlMs: options.rotatedIdTtlMs ?? 30_000,
      persistent: typeof this.local.evict === 'function',
      faults: s.faults,
    });
    this.#router = new Router(
      s.redis,
      s.keys,
      this.#lease,
      this.#ownership,
      this.#telemetry,
      (req, rid, attempt) =>
        // Draining: a session that already left this node is not brought back here; the caller
        // asks again and finds it on the node that takes it.
        this.#draining && !this.local.started(req.id) && this.#wide.canForward()
          ? Promise.resolve({ m: 1 as const })
          : this.#owner.apply(req, rid, attempt).then((body) => this.#notMine(req.id, body)),
      () => performance.now() >= this.#presumeGoneAfter,
    );
    this.#versions = new NodeVersions(s.redis, s.keys, s.nodeId, heldVersions(this.local.logics));
    this.#sweep = new MigrationSweep({
      redis: s.redis,
      keys: s.keys,
      nodeId: s.nodeId,
      held: this.#versions.held,
      perSecond: s.sweepPerSecond,
      active: () => !this.#closed && !this.#draining && this.#lease.valid(),
      migrate: (id) => this.#migrateStored(id),
      report: (err) => this.#report(err),
    });
    this.#wide = new ClusterWide({
      redis: s.redis,
      keys: s.keys,
      nodeId: s.nodeId,
      local: this.local,
      liveNodes: () => this.#lease.liveNodes,
      see: (id, seen) => this.see(id, seen),
      route: (req, ttlMs, rid, tried) => this.#router.send(req, ttlMs, rid, tried),
      waitMs: Math.max(250, s.leaseMs / 3),
    });
    this.#sub = s.redis.duplicate(name ? { connectionName: `${name}:sub` } : {});
    this.#views = new RemoteViews(
      this.#sub,
      s.keys,
      {
        watch: async (id) => (await this.#route({ op: 'watch', id }, this.#callTimeoutMs)).x,
        saw: (id, snapshot) => this.see(id, { snapshot }),
        report: (err, id) => this.#report(err, id),
      },
      // The safety net: views whose owner looks live are watched again this often.
      20 * s.leaseMs,
    );
    this.#offLocal.push(
      ...this.#directory.follow(this.local, {
        owns: (id) => this.#ownership.tokens.has(id),
        ended: (id) => this.#forwarders.stop(id),
        report: (err, id) => this.#report(err, id),
      }),
      // One running copy: a session that comes into memory here without this node holding its
      // token (its record was loading when the lease was lost; a start raced a takeover) is a
      // stale copy beside the real one: it leaves at once, before any event reaches it.
      this.local.on('start', (e) => {
        if (!s.unfenced && !this.#ownership.tokens.has(e.sessionId))
          this.drop(e.sessionId, (err) => this.#report(err, e.sessionId));
      }),
    );
    this.#sub.on('message', (channel: string, message: string) =>
      this.#onMessage(channel, message),
    );
    // The connections the cluster made are its own to watch (the caller's client is the caller's):
    // a refused connection is retried by ioredis and shows in the lease (lose, NODE_ID_IN_USE).
    for (const conn of [this.#sub, this.#leaseRedis])
      conn.on('error', (err: unknown) => debug('redis connection error: %o', err));
    // Without its subscriber connection the node gets no requests, and other nodes may take its
    // sessions as soon as Redis sees nothing listening on its channel: stop them now.
    this.#sub.on('close', () => {
      this.#presumeGoneAfter = Number.POSITIVE_INFINITY;
      if (!this.#closed) this.#lease.drop('disconnected');
    });
    this.#sub.on('ready', () => void this.#subReady(s.leaseMs));
    this.#ready = this.#begin(options);
    this.#ready.catch((err) => this.#report(err));
  }

  async #begin(options: Omit<SupervisorOptions, 'cluster'>): Promise<void> {
    await this.#sub.subscribe(
      this.#keys.channel(this.#lease.nodeId),
      this.#keys.directory,
      this.#wide.queries.channel,
    );
    await this.#versions.advertise();
    await this.#directory.load();
    await this.#lease.start();
    onRenewals(this.#telemetry, {
      lease: this.#lease,
      views: this.#views,
      ownership: this.#ownership,
      router: this.#router,
      running: (id) => this.local.started(id),
      report: (err) => this.#report(err),
    });
    if (options.durability === 'durable') void warnIfNotDurable(this.#redis);
    this.#sweep.start();
  }

  /** The subscriber connection is up (again): see {@link #presumeGoneAfter}. */
  async #subReady(leaseMs: number): Promise<void> {
    const first = !this.#subConnected;
    this.#subConnected = true;
    const now = performance.now();
    if (!first) {
      this.#presumeGoneAfter = now + leaseMs;
      return;
    }
    // A node that starts right after a Redis restart cannot tell it by its own connection.
    let uptimeMs = Number.POSITIVE_INFINITY;
    try {
      const info = await this.#redis.info('server');
      const seconds = /uptime_in_seconds:(\d+)/.exec(info)?.[1];
      if (seconds !== undefined) uptimeMs = Number(seconds) * 1000;
    } catch {
      // INFO may be disabled (a managed Redis): judge by this node's connection alone
    }
    this.#presumeGoneAfter = now + Math.max(0, leaseMs - uptimeMs);
  }

  /** Resolves when this node holds its lease (operations wait for it by themselves). */
  get ready(): Promise<void> {
    return this.#ready.then(() => this.#lease.ready);
  }

  // ---- messages ------------------------------------------------------------------------------

  #onMessage(channel: string, message: string): void {
    if (channel === this.#keys.directory) this.#directory.onMessage(message);
    else if (channel === this.#wide.queries.channel) this.#wide.queries.onMessage(message);
    else if (channel.startsWith(this.#keys.view(''))) this.#views.onMessage(channel, message);
    else this.#router.onMessage(message);
  }

  // ---- routing -------------------------------------------------------------------------------

  async #route(req: RouteRequest, ttlMs: number, rid?: string, tried = 0): Promise<ReplyBody> {
    // One idempotency ID wherever the operation goes (another node when this one drains, a node
    // holding a newer version), so that no path applies it twice.
    const id = rid ?? this.#router.newRid();
    let body: ReplyBody | undefined;
    if (this.#closed) {
      // Shutting down after a drain (SIGTERM): a request already on its way when the node was
      // told to stop goes on to another node while this one still listens; otherwise, and after
      // the shutdown, this node serves nothing.
      if (this.#draining && !this.#stopped && this.#wide.canForward()) {
        const handing = this.#wide.forward(req, ttlMs, id, tried);
        this.#handing.add(handing);
        body = await handing.finally(() => this.#handing.delete(handing));
      }
      if (!body) throw new SessionNotFoundError(req.id);
    } else {
      // A node that cannot reach Redis answers within the operation's time, not never.
      await this.#whenReady(req.id, ttlMs);
      body =
        this.#draining && !this.#here(req.id) && this.#wide.canForward()
          ? ((await this.#wide.forward(req, ttlMs, id, tried)) ??
            (await this.#router.send(req, ttlMs, id, tried)))
          : await this.#router.send(req, ttlMs, id, tried);
    }
    if (body.err?.code === 'SESSION_VERSION_AHEAD')
      body = await this.#toHolder(req, ttlMs, body, id, tried);
    if (body.x || body.l)
      this.see(req.op === 'rename' ? req.newId! : req.id, { snapshot: body.x, logic: body.l });
    if (body.err) throw fromWire(body.err);
    return body;
  }

  /**
   * The XState clock of this node's sessions, whose delayed events (`after`) are steps too: each
   * fires only after the lease is checked, on the monotonic clock, at that moment. After a pause
   * (SIGSTOP, a long GC) the timers due meanwhile fire in due order, possibly before the lease's
   * own timer: without this check a session's timer would run on a node that lost it.
   */
  #leasedClock(base: SupervisorOptions['clock']): NonNullable<SupervisorOptions['clock']> {
    const inner = base ?? {
      setTimeout: (fn: () => void, ms: number) => setTimeout(fn, ms),
      clearTimeout: (h: NodeJS.Timeout) => clearTimeout(h),
    };
    return {
      setTimeout: (fn: (...args: any[]) => void, ms: number) =>
        inner.setTimeout(() => {
          // valid() stops every session here when the lease has lapsed (the timer's too).
          if (this.#lease.valid()) fn();
        }, ms),
      clearTimeout: (h: unknown) => inner.clearTimeout(h as never),
    };
  }

  /**
   * A session taken from another node (a failover): its watchers on other nodes get its
   * snapshots from here at once, the current one first, without waiting for their own watch
   * (one round trip through the dead owner's hint and the acquire script, under load hundreds of
   * milliseconds).
   */
  #taken(id: string): void {
    void this.local.restore(id).then(
      (exists) => {
        if (!exists || !this.#here(id)) return;
        this.#forwarders.ensure(this.local, id);
        this.#forwarders.current(this.local.snapshot(id), id);
      },
      () => {},
    );
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
    const rec = await this.#versions.recordOf(req.id).catch(() => undefined);
    const holders = rec ? await this.#versions.holders(rec.logic, rec.version).catch(() => []) : [];
    let reached = false;
    for (const node of holders) {
      // Under the operation's own ID: a holder that took it and did not answer in time may have
      // applied it, and the next one asked must not apply it again.
      const a = await this.#wide.queries.send<ReplyBody>(
        node,
        { q: 'op', req, ttlMs, rid, tried: reached ? tried + 1 : tried },
        ttlMs + Math.max(250, this.#lease.leaseMs / 3),
      );
      if ('value' in a && a.value) return a.value;
      if ('reached' in a && a.reached) reached = true;
    }
    if (!reached || !body.err) return body;
    const err: WireError = { ...body.err, retryAfterMs: Math.max(1_000, this.#lease.leaseMs) };
    return { err };
  }

  /**
   * The sweep's step for one stored session of an older version: restored here (which migrates
   * it and saves it at the new version), then out of memory and given up again.
   */
  async #migrateStored(id: string): Promise<boolean> {
    if (this.local.started(id)) return false; // running here: written at this version already
    if (!(await this.restore(id).catch(() => false)) || !this.#here(id)) return false;
    const local = this.local as Evictable & { passivate?(id: string): Promise<boolean> };
    const left = (await local.passivate?.(id)) === true;
    if (left && !this.local.started(id)) await this.#ownership.release(id).catch(() => {});
    return left;
  }

  /**
   * The owner's answer, after this node found it cannot run the session (a newer version wrote
   * it): the ownership it took to try goes, so that a node holding that version may take it.
   */
  async #notMine(id: string, body: ReplyBody): Promise<ReplyBody> {
    if (body.err?.code === 'SESSION_VERSION_AHEAD' && !this.local.started(id))
      await this.#ownership.release(id).catch(() => {});
    return body;
  }

  /** Whether `id` runs here under this node's lease (then operations on it need no Redis). */
  #here(id: string): boolean {
    return this.#ownership.owns(id) && this.local.started(id);
  }

  // ---- losing sessions -----------------------------------------------------------------------

  /** The lease is gone: stop every session here at once, before another node can take them. */
  #fence(): number {
    // Watchers elsewhere watch again now; the new owner answers once our lease has lapsed.
    this.#forwarders.moved(this.#forwarders.stopAll());
    const ids = this.#ownership.clear();
    this.#owner.clear();
    this.#router.forgetOwners();
    let stopped = 0;
    for (const id of ids) if (this.drop(id, (err) => this.#report(err, id))) stopped++;
    debug('node %s fenced %d session(s)', this.#lease.nodeId, stopped);
    return stopped;
  }

  /** A write for `id` was refused: another node owns it now. */
  #lostSession(id: string): void {
    if (!this.#ownership.tokens.has(id) && !this.local.started(id)) return;
    this.#forwarders.stop(id, true);
    this.#ownership.tokens.delete(id);
    this.drop(id, (err) => this.#report(err, id));
  }

  // ---- SessionSupervisor ---------------------------------------------------------------------

  async start<TContext = any>(
    id: string,
    options: StartOptions = {},
  ): Promise<SessionHandle<TContext>> {
    checkId(id);
    await this.#route({ op: 'start', id, start: options }, this.#callTimeoutMs);
    return new Handle(this, id);
  }

  async ensure<TContext = any>(
    id: string,
    options: StartOptions = {},
  ): Promise<SessionHandle<TContext>> {
    checkId(id);
    if (this.#here(id)) return new Handle(this, id);
    await this.#route({ op: 'ensure', id, start: options }, this.#callTimeoutMs);
    this.#directory.learn(id);
    return new Handle(this, id);
  }

  async restore(id: string): Promise<boolean> {
    checkId(id);
    if (this.#here(id)) return true;
    try {
      const body = await this.#route({ op: 'restore', id }, this.#callTimeoutMs);
      // The owner says it exists: `started`/`touch` here must agree at once, not only once the
      // directory's announcement arrives (a Koa request checks them right after).
      if (body.v === true) this.#directory.learn(id);
      return body.v === true;
    } catch (err) {
      if (isSessionError(err, 'SESSION_NOT_FOUND')) return false;
      throw err;
    }
  }

  started(id: string): boolean {
    return typeof id === 'string' && (this.local.started(id) || this.#directory.has(id));
  }

  get<TContext = any>(id: string): SessionHandle<TContext> | undefined {
    return this.started(id) ? new Handle(this, id) : undefined;
  }

  async call<T = unknown, TContext = any>(
    id: string,
    event: EventObject,
    options: CallOptions<TContext> = {},
  ): Promise<T> {
    if (this.#here(id)) {
      // Exactly once on the fast path too: the call has its idempotency ID from this first
      // attempt. A call that changed the session has the ID saved with the step's snapshot, in
      // the fenced script, as a routed call has. When the session leaves this node while the
      // call waits for that save (the lease lapsed: a GC pause, CPU starvation), the call is
      // asked again where the session went under the same ID, as a retry: if the save landed,
      // the new owner finds the ID and answers CALL_TIMEOUT (applied, reply unknown), never
      // applies it a second time; if it did not, the call is applied there, once.
      const rid = this.#router.newRid();
      const before = this.local.snapshot(id).version;
      const pending = this.local.call<T, TContext>(id, event, options);
      if (this.local.started(id) && this.local.snapshot(id).version !== before)
        this.#owner.markApplied(id, rid);
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
    const timeoutMs = options.timeoutMs ?? this.#callTimeoutMs;
    const until = options.until;
    const tried = rid === undefined ? 0 : 1;
    if (!until) {
      const body = await this.#route({ op: 'call', id, event, timeoutMs }, timeoutMs, rid, tried);
      return body.v as T;
    }
    const untilRid = rid ?? this.#router.newRid();
    return remoteCallUntil<T>(
      this.#views,
      () => this.#route({ op: 'call', id, event, timeoutMs, until: 1 }, timeoutMs, untilRid, tried),
      this.mirror.get(id)?.snapshot,
      id,
      event,
      timeoutMs,
      until as (s: SessionSnapshot) => boolean,
    );
  }

  cast(id: string, event: EventObject): void {
    if (this.#here(id)) {
      this.local.cast(id, event);
      return;
    }
    checkEvent(id, event);
    if (!this.started(id)) throw new SessionNotFoundError(id);
    this.#route({ op: 'cast', id, event }, this.#callTimeoutMs).catch((err) =>
      this.#report(err, id),
    );
  }

  snapshot<TContext = any>(id: string): SessionSnapshot<TContext> {
    if (this.#here(id)) return this.local.snapshot<TContext>(id);
    checkId(id);
    const seen = this.mirror.get(id)?.snapshot;
    if (seen && this.started(id)) return seen as SessionSnapshot<TContext>;
    throw new SessionNotFoundError(id);
  }

  async read<TContext = any>(id: string): Promise<SessionSnapshot<TContext>> {
    if (this.#here(id)) return this.local.snapshot<TContext>(id);
    checkId(id);
    // The owner answers with the snapshot it holds now (an unowned stored session is activated,
    // as by any operation on it).
    const body = await this.#route({ op: 'restore', id }, this.#callTimeoutMs);
    if (body.v !== true || !body.x) throw new SessionNotFoundError(id);
    this.#directory.learn(id);
    return body.x as SessionSnapshot<TContext>;
  }

  async status(id: string): Promise<SessionPresence> {
    checkId(id);
    if (this.local.started(id)) return 'running';
    await this.#whenReady(id);
    try {
      return await this.#wide.status(id);
    } catch (err) {
      throw new StoreUnavailableError(err, id);
    }
  }

  listAll(options?: ListOptions): Promise<SessionPage> {
    return this.#wide.listAll(options);
  }

  async takeClientStart(client: string, limit: number, intervalMs: number): Promise<number> {
    try {
      return await takeSharedStart(this.#redis, this.#keys, client, limit, intervalMs);
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
  async drain(options: { timeoutMs?: number } = {}): Promise<number> {
    if (this.#closed) return 0;
    await this.#wide.refreshNodes(0);
    this.#draining = true;
    const handed = await this.local.drain(options);
    // Whatever is no longer in memory here is given up (also sessions passivated earlier and
    // still owned): the next use takes each on a node that stays.
    const moved: string[] = [];
    for (const id of this.#forwarders.stopAll()) {
      // One still here (a call kept it past the deadline) goes on being forwarded from here.
      if (this.local.started(id)) this.#forwarders.ensure(this.local, id);
      else moved.push(id);
    }
    const leaving = [...this.#ownership.tokens.keys()].filter((id) => !this.local.started(id));
    await Promise.allSettled(leaving.map((id) => this.#ownership.release(id)));
    this.#router.forgetOwners();
    // Watchers (live views, the visualizer) anywhere watch again now, where each session goes.
    this.#forwarders.moved(moved);
    return handed;
  }

  /** Waits (bounded) until the node may serve; STORE_UNAVAILABLE when it cannot reach Redis. */
  async #whenReady(id: string, withinMs = this.#callTimeoutMs): Promise<void> {
    const ok = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), withinMs);
      this.#ready.then(
        () => {
          clearTimeout(timer);
          resolve(true);
        },
        () => {
          clearTimeout(timer);
          resolve(false);
        },
      );
    });
    if (!ok)
      throw new StoreUnavailableError(new Error('the cluster node could not reach Redis'), id);
  }

  subscribe<TContext = any, TSelected = unknown>(
    id: string,
    listener: (message: SessionMessage<TContext, TSelected>) => void,
    options: SubscribeOptions<TContext, TSelected> = {},
  ): () => void {
    checkId(id);
    if (!this.started(id)) throw new SessionNotFoundError(id);
    const current = this.#here(id) ? this.local.snapshot(id) : this.mirror.get(id)?.snapshot;
    return this.#views.subscribe(
      id,
      listener as (m: SessionMessage) => void,
      options as SubscribeOptions,
      current,
    );
  }

  touch(id: string): boolean {
    if (this.#here(id)) return this.local.touch(id);
    if (!isValidSessionId(id) || !this.#directory.has(id)) return false;
    this.#route({ op: 'touch', id }, this.#callTimeoutMs).catch(() => {});
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
      subscribers: local.subscribers + this.#views.subscriberCount,
      cluster: {
        nodeId: this.#lease.nodeId,
        nodes: [...this.#lease.liveNodes].sort(),
        leaseHeld: this.#lease.valid(),
        owned: this.#ownership.tokens.size,
        known: this.#directory.size,
      },
    };
  }

  async terminate(id: string): Promise<void> {
    if (this.#here(id)) return this.local.terminate(id);
    checkId(id);
    await this.#route({ op: 'terminate', id }, this.#callTimeoutMs);
  }

  async rename(id: string, newId: string): Promise<SessionHandle> {
    checkId(id);
    checkId(newId);
    await this.#route({ op: 'rename', id, newId }, this.#callTimeoutMs);
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

  async shutdown(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#views.endAll('shutdown');
    // The sessions live on in the store: nobody watching here should see them end; once they are
    // free, their watchers on other nodes watch again, and another node takes them.
    const forwarded = this.#forwarders.stopAll();
    await this.local.shutdown();
    for (const off of this.#offLocal) off();
    await Promise.allSettled(
      [...this.#ownership.tokens.keys()].map((id) => this.#ownership.release(id)),
    );
    this.#forwarders.moved(forwarded);
    this.#sweep.stop();
    await this.#versions.withdraw().catch(() => {});
    await this.#lease.stop();
    await this.#leaseRedis.quit().catch(() => this.#leaseRedis.disconnect());
    while (this.#handing.size) await Promise.allSettled([...this.#handing]);
    this.#stopped = true;
    this.#router.close();
    this.#wide.queries.close();
    await this.#sub.quit().catch(() => this.#sub.disconnect());
  }

  // The overloads are ClusterSessionSupervisor's (types.ts); this signature serves them both.
  on(name: string, listener: (event: any) => void): () => void {
    if (isClusterTelemetryName(name)) return this.#telemetry.on(name, listener);
    return this.local.on(name as TelemetryName, listener);
  }

  /**
   * Everything that reaches `onError` from the cluster has a code: its own failures are
   * `ClusterError`s and `SessionError`s; anything else is Redis failing under one of its
   * background tasks (a view's subscription, the directory, the sweep): `STORE_UNAVAILABLE`,
   * with the Redis error as its `cause`.
   */
  #report(error: unknown, sessionId?: string, asIs = false): void {
    const coded =
      asIs || isSessionError(error) || isClusterError(error)
        ? error
        : new StoreUnavailableError(error, sessionId);
    try {
      this.#onError(
        coded,
        sessionId === undefined ? { source: 'cluster' } : { sessionId, source: 'cluster' },
      );
    } catch {
      // nowhere left to report to
    }
  }
}
