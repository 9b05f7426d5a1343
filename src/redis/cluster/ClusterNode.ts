import { debuglog } from 'node:util';
import type { Redis } from 'ioredis';
import {
  isSessionError,
  type SessionSnapshot,
  type SessionSupervisor,
  StoreUnavailableError,
  type SupervisorOptions,
} from '../../index.js';
import { ClusterWide } from './ClusterWide.js';
import { Directory } from './Directory.js';
import { isClusterError } from './errors.js';
import type { ClusterFaultHooks } from './faults.js';
import { fencedStore } from './fencedStore.js';
import type { ClusterKeys } from './keys.js';
import { leasedClock } from './leasedClock.js';
import { dropLocal, type Evictable } from './LocalSessions.js';
import { MigrationSweep } from './MigrationSweep.js';
import { NodeLease } from './NodeLease.js';
import { NodeRouting } from './NodeRouting.js';
import { heldVersions, NodeVersions } from './NodeVersions.js';
import { onRenewals } from './onRenewals.js';
import { OwnerRequests } from './OwnerRequests.js';
import { Ownership } from './Ownership.js';
import { RemoteViews, ViewForwarders } from './RemoteViews.js';
import { Router } from './Router.js';
import { ClusterTelemetry } from './telemetry.js';
import { warnIfNotDurable } from './warnIfNotDurable.js';
import { within } from './within.js';

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

/** @internal Makes the supervisor of the sessions a node runs (the core's). */
export type LocalFactory = (options: Omit<SupervisorOptions, 'cluster'>) => SessionSupervisor;

/** @internal What the node asks of the supervisor it serves. */
export interface ClusterNodeHooks {
  /** Keeps what the node learnt of a session owned elsewhere (for `snapshot()`). */
  see(
    id: string,
    seen: { snapshot?: SessionSnapshot | undefined; logic?: string | undefined },
  ): void;
}

/**
 * @internal The machinery of one cluster node, built in dependency order: its connections, its
 * lease and the sessions' ownership, the fenced store and the local supervisor over it, routing,
 * views across nodes, the directory, the node-wide queries, the versions it advertises and the
 * sweep; and their life: start, losing sessions with the lease, drain and shutdown. The
 * {@link ClusterSupervisor} is its `SessionSupervisor` face.
 */
export class ClusterNode {
  readonly redis: Redis;
  readonly keys: ClusterKeys;
  readonly telemetry: ClusterTelemetry;
  readonly lease: NodeLease;
  readonly ownership: Ownership;
  readonly local: Evictable;
  readonly directory: Directory;
  readonly forwarders: ViewForwarders;
  readonly owner: OwnerRequests;
  readonly router: Router;
  readonly versions: NodeVersions;
  readonly wide: ClusterWide;
  readonly views: RemoteViews;
  readonly routing: NodeRouting;
  readonly callTimeoutMs: number;
  readonly #sub: Redis;
  readonly #leaseRedis: Redis;
  readonly #sweep: MigrationSweep;
  readonly #onError: NonNullable<SupervisorOptions['onError']>;
  readonly #ready: Promise<void>;
  readonly #offLocal: (() => void)[] = [];
  /** Set by {@link drain}: the node activates no session any more; others take its operations. */
  #draining = false;
  /** Set by {@link shutdown} when it begins. */
  #closed = false;
  /** Set by {@link shutdown} once the node stops listening (nothing can be handed on any more). */
  #stopped = false;
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
    hooks: ClusterNodeHooks,
  ) {
    this.redis = s.redis;
    this.keys = s.keys;
    this.callTimeoutMs = options.callTimeoutMs ?? 5_000;
    this.#onError =
      options.onError ??
      ((error, info) =>
        console.error(`[session-process] ${info.source} in ${info.sessionId ?? '-'}:`, error));
    // A telemetry listener's own failure goes to onError as it is (as the core's listeners' do).
    this.telemetry = new ClusterTelemetry((err) => this.report(err, undefined, true));
    const name = s.redis.options.connectionName;
    // The lease renews on a connection of its own: behind a burst of calls on the shared one,
    // a renewal would wait its turn past the lease's deadline.
    this.#leaseRedis = s.redis.duplicate(name ? { connectionName: `${name}:lease` } : {});
    this.lease = new NodeLease(
      this.#leaseRedis,
      s.keys,
      s.nodeId,
      s.leaseMs,
      this.telemetry,
      {
        onLost: () => this.#fence(),
        onError: (err) => this.report(err),
        onAcquired: () => {},
        ...(s.faults.afterRenew ? { afterRenew: s.faults.afterRenew } : {}),
      },
      !s.unfenced,
    );
    this.ownership = new Ownership(
      s.redis,
      s.keys,
      this.lease,
      this.telemetry,
      (id) => this.#taken(id),
      s.faults,
    );
    const store = fencedStore(s.redis, s.keys, this.lease, this.ownership, {
      onFenced: (id) => this.#lostSession(id),
      takeApplied: (id) => this.owner.takeApplied(id),
      resident: (id) => this.local.started(id),
      unfenced: s.unfenced,
      faults: s.faults,
    });
    // A draining node wakes no due session: a node that stays takes it.
    const due = store.due.bind(store);
    store.due = (until, limit) => (this.#draining ? Promise.resolve([]) : due(until, limit));
    this.local = createLocal({ ...options, store, clock: leasedClock(options.clock, this.lease) });
    this.directory = new Directory(s.redis, s.keys);
    this.forwarders = new ViewForwarders(s.redis, s.keys);
    this.owner = new OwnerRequests({
      local: this.local,
      redis: s.redis,
      keys: s.keys,
      ownership: this.ownership,
      forwarders: this.forwarders,
      directory: this.directory,
      callTimeoutMs: this.callTimeoutMs,
      rotatedIdTtlMs: options.rotatedIdTtlMs ?? 30_000,
      persistent: typeof this.local.evict === 'function',
      leaving: () => (this.#draining || this.#closed) && this.wide.canForward(),
      faults: s.faults,
    });
    this.router = new Router(
      s.redis,
      s.keys,
      this.lease,
      this.ownership,
      this.telemetry,
      // A session that already left a draining node is not brought back there (OwnerRequests).
      (req, rid, attempt) =>
        this.owner.apply(req, rid, attempt).then((body) => this.routing.notMine(req.id, body)),
      () => performance.now() >= this.#presumeGoneAfter,
    );
    this.versions = new NodeVersions(s.redis, s.keys, s.nodeId, heldVersions(this.local.logics));
    this.wide = new ClusterWide({
      redis: s.redis,
      keys: s.keys,
      nodeId: s.nodeId,
      local: this.local,
      liveNodes: () => this.lease.liveNodes,
      see: hooks.see,
      route: (req, ttlMs, rid, tried) => this.routing.routeHanded(req, ttlMs, rid, tried),
      waitMs: Math.max(250, s.leaseMs / 3),
    });
    this.routing = new NodeRouting({
      local: this.local,
      router: this.router,
      wide: this.wide,
      versions: this.versions,
      lease: this.lease,
      ownership: this.ownership,
      directory: this.directory,
      callTimeoutMs: this.callTimeoutMs,
      state: () => ({ draining: this.#draining, closed: this.#closed, stopped: this.#stopped }),
      here: (id) => this.here(id),
      whenReady: (id, withinMs) => this.whenReady(id, withinMs),
      see: hooks.see,
    });
    this.#sweep = new MigrationSweep({
      redis: s.redis,
      keys: s.keys,
      nodeId: s.nodeId,
      held: this.versions.held,
      perSecond: s.sweepPerSecond,
      active: () => !this.#closed && !this.#draining && this.lease.valid(),
      migrate: (id) => this.routing.migrateStored(id),
      report: (err) => this.report(err),
    });
    this.#sub = s.redis.duplicate(name ? { connectionName: `${name}:sub` } : {});
    this.views = new RemoteViews(
      this.#sub,
      s.keys,
      {
        watch: async (id) => (await this.routing.route({ op: 'watch', id }, this.callTimeoutMs)).x,
        saw: (id, snapshot) => hooks.see(id, { snapshot }),
        report: (err, id) => this.report(err, id),
      },
      // The safety net: views whose owner looks live are watched again this often.
      20 * s.leaseMs,
    );
    this.#offLocal.push(
      ...this.directory.follow(this.local, {
        owns: (id) => this.ownership.tokens.has(id),
        ended: (id) => this.forwarders.stop(id),
        report: (err, id) => this.report(err, id),
      }),
      // One running copy: a session that comes into memory here without this node holding its
      // token (its record was loading when the lease was lost; a start raced a takeover) is a
      // stale copy beside the real one: it leaves at once, before any event reaches it.
      this.local.on('start', (e) => {
        if (!s.unfenced && !this.ownership.tokens.has(e.sessionId))
          dropLocal(this.local, e.sessionId, (err) => this.report(err, e.sessionId));
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
      if (!this.#closed) this.lease.drop('disconnected');
    });
    this.#sub.on('ready', () => void this.#subReady(s.leaseMs));
    this.#ready = this.#begin(options);
    this.#ready.catch((err) => this.report(err));
  }

  async #begin(options: Omit<SupervisorOptions, 'cluster'>): Promise<void> {
    await this.#sub.subscribe(
      this.keys.channel(this.lease.nodeId),
      this.keys.directory,
      this.wide.queries.channel,
    );
    await this.versions.advertise();
    await this.directory.load();
    await this.lease.start();
    onRenewals(this.telemetry, {
      lease: this.lease,
      views: this.views,
      ownership: this.ownership,
      router: this.router,
      running: (id) => this.local.started(id),
      report: (err) => this.report(err),
    });
    if (options.durability === 'durable') void warnIfNotDurable(this.redis);
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
      const info = await this.redis.info('server');
      const seconds = /uptime_in_seconds:(\d+)/.exec(info)?.[1];
      if (seconds !== undefined) uptimeMs = Number(seconds) * 1000;
    } catch {
      // INFO may be disabled (a managed Redis): judge by this node's connection alone
    }
    this.#presumeGoneAfter = now + Math.max(0, leaseMs - uptimeMs);
  }

  /** Resolves when this node holds its lease (operations wait for it by themselves). */
  get ready(): Promise<void> {
    return this.#ready.then(() => this.lease.ready);
  }

  #onMessage(channel: string, message: string): void {
    if (channel === this.keys.directory) this.directory.onMessage(message);
    else if (channel === this.wide.queries.channel) this.wide.queries.onMessage(message);
    else if (channel.startsWith(this.keys.view(''))) this.views.onMessage(channel, message);
    else this.router.onMessage(message);
  }

  /** Whether `id` runs here under this node's lease (then operations on it need no Redis). */
  here(id: string): boolean {
    return this.ownership.owns(id) && this.local.started(id);
  }

  /** Waits (bounded) until the node may serve; STORE_UNAVAILABLE when it cannot reach Redis. */
  async whenReady(id: string, withinMs = this.callTimeoutMs): Promise<void> {
    const ok = await within(
      this.#ready.then(
        () => true,
        () => false,
      ),
      withinMs,
    );
    if (ok !== true)
      throw new StoreUnavailableError(new Error('the cluster node could not reach Redis'), id);
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
        if (!exists || !this.here(id)) return;
        this.forwarders.ensure(this.local, id);
        this.forwarders.current(this.local.snapshot(id), id);
      },
      () => {},
    );
  }

  // ---- losing sessions -----------------------------------------------------------------------

  /** The lease is gone: stop every session here at once, before another node can take them. */
  #fence(): number {
    // Watchers elsewhere watch again now; the new owner answers once our lease has lapsed.
    this.forwarders.moved(this.forwarders.stopAll());
    const ids = this.ownership.clear();
    this.owner.clear();
    this.router.forgetOwners();
    let stopped = 0;
    for (const id of ids) if (dropLocal(this.local, id, (err) => this.report(err, id))) stopped++;
    debug('node %s fenced %d session(s)', this.lease.nodeId, stopped);
    return stopped;
  }

  /** A write for `id` was refused: another node owns it now. */
  #lostSession(id: string): void {
    if (!this.ownership.tokens.has(id) && !this.local.started(id)) return;
    this.forwarders.stop(id, true);
    this.ownership.tokens.delete(id);
    dropLocal(this.local, id, (err) => this.report(err, id));
  }

  // ---- leaving -------------------------------------------------------------------------------

  /** See `ClusterSupervisor.drain`. */
  async drain(options: { timeoutMs?: number }): Promise<number> {
    if (this.#closed) return 0;
    await this.wide.refreshNodes(0);
    this.#draining = true;
    const handed = await this.local.drain(options);
    // Whatever is no longer in memory here is given up (also sessions passivated earlier and
    // still owned): the next use takes each on a node that stays.
    const moved: string[] = [];
    for (const id of this.forwarders.stopAll()) {
      // One still here (a call kept it past the deadline) goes on being forwarded from here.
      if (this.local.started(id)) this.forwarders.ensure(this.local, id);
      else moved.push(id);
    }
    const leaving = [...this.ownership.tokens.keys()].filter((id) => !this.local.started(id));
    await Promise.allSettled(leaving.map((id) => this.ownership.release(id)));
    this.router.forgetOwners();
    // Watchers (live views, the visualizer) anywhere watch again now, where each session goes.
    this.forwarders.moved(moved);
    return handed;
  }

  /** Whether {@link shutdown} has begun. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Saves and gives up every session here, leaves the cluster and closes its connections. */
  async shutdown(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.views.endAll('shutdown');
    // The sessions live on in the store: nobody watching here should see them end; once they are
    // free, their watchers on other nodes watch again, and another node takes them.
    const forwarded = this.forwarders.stopAll();
    await this.local.shutdown();
    for (const off of this.#offLocal) off();
    await Promise.allSettled(
      [...this.ownership.tokens.keys()].map((id) => this.ownership.release(id)),
    );
    this.forwarders.moved(forwarded);
    this.#sweep.stop();
    await this.versions.withdraw().catch(() => {});
    await this.lease.stop();
    await this.#leaseRedis.quit().catch(() => this.#leaseRedis.disconnect());
    await this.routing.handed();
    this.#stopped = true;
    this.router.close();
    this.wide.queries.close();
    await this.#sub.quit().catch(() => this.#sub.disconnect());
  }

  /**
   * Everything that reaches `onError` from the cluster has a code: its own failures are
   * `ClusterError`s and `SessionError`s; anything else is Redis failing under one of its
   * background tasks (a view's subscription, the directory, the sweep): `STORE_UNAVAILABLE`,
   * with the Redis error as its `cause`.
   */
  report(error: unknown, sessionId?: string, asIs = false): void {
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
