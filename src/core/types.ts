import type { AnyActorLogic, AnyActorRef, ActorSystem, AnyEventObject, EventObject } from 'xstate';
import type { SessionRecord } from './persistence/record.js';
import type { SessionStore } from './store/SessionStore.js';

/** When changes reach the store: see {@link SupervisorOptions.durability}. */
export type Durability = 'none' | 'eventual' | 'durable';

/** Why a session ended. Every subscriber gets exactly one `ended` message with one of these. */
export type EndReason = 'terminated' | 'expired' | 'crashed' | 'shutdown';

/** Status of a session's actor snapshot, as XState reports it. */
export type SessionStatus = 'active' | 'done' | 'error' | 'stopped';

/** A plain, serializable view of a session's current state. */
export interface SessionSnapshot<TContext = any> {
  /** The machine's state value (`'idle'`, `{ cart: 'active', auth: 'anonymous' }`, ...). */
  value: unknown;
  /** The machine's context (the same object XState holds: treat it as read-only). */
  context: TContext;
  status: SessionStatus;
  /** Increases by one each time the session's snapshot changes; starts at 1. */
  version: number;
}

/** What a subscriber receives. */
export type SessionMessage<TContext = any, TSelected = unknown> =
  | {
      type: 'snapshot';
      snapshot: SessionSnapshot<TContext>;
      version: number;
      /** The selected value, when `subscribe` was given `select`. */
      selected?: TSelected;
    }
  | {
      type: 'ended';
      /**
       * Why the subscription ended: the session's end reason, or `'rotated'` when the session
       * moved to a new ID (`rename`, Koa's `rotate()`): the process lives on, but not for
       * whoever followed the old ID.
       */
      reason: EndReason | 'rotated';
      /** What the machine threw, with reason `crashed`. */
      error?: unknown;
    };

/** Options of `subscribe`. */
export interface SubscribeOptions<TContext = any, TSelected = unknown> {
  /** Only notify when this projection of the snapshot changes (compared with `equals`). */
  select?: (snapshot: SessionSnapshot<TContext>) => TSelected;
  /** @default Object.is */
  equals?: (a: TSelected, b: TSelected) => boolean;
}

/** Options of `start` and `ensure`. */
export interface StartOptions {
  /** Name of a logic in the supervisor's `logics`. @default the supervisor's `logic` */
  logic?: string | undefined;
  /** The machine's `input` (keep it JSON-serializable). */
  input?: unknown;
}

/** Options of `call`. */
export interface CallOptions<TContext = any> {
  /** Milliseconds to wait for the reply. @default the supervisor's `callTimeoutMs` (5_000) */
  timeoutMs?: number | undefined;
  /**
   * Resolve with the first snapshot that satisfies this predicate (checked after the event's
   * step and after every later change) instead of waiting for a `reply`.
   */
  until?: ((snapshot: SessionSnapshot<TContext>) => boolean) | undefined;
}

/** One row of `list()`. */
export interface SessionInfo {
  id: string;
  logic: string;
  /** Epoch milliseconds. */
  startedAt: number;
  /** Epoch milliseconds of the last call, cast, touch or (un)subscribe. */
  lastActiveAt: number;
  value: unknown;
  status: SessionStatus;
  version: number;
  subscribers: number;
}

/** Options of `list()`. */
export interface ListOptions {
  /** @default 0 */
  offset?: number;
  /** @default Infinity */
  limit?: number;
}

/** What `stats()` returns. */
export interface SupervisorStats {
  /** Sessions running now (same as `count`). */
  total: number;
  /** Sessions running now, per logic name. */
  byLogic: Record<string, number>;
  /** Sessions started since the supervisor was created (restarts not counted). */
  started: number;
  /** Sessions ended since the supervisor was created, per reason. */
  ended: Record<EndReason, number>;
  /** Restarts after a crash. */
  restarts: number;
  /** Calls waiting for a reply now. */
  pendingCalls: number;
  /** Subscribers attached now, over all sessions. */
  subscribers: number;
  calls: number;
  casts: number;
  /** Starts refused by `maxSessions` or `startRate`. */
  refused: number;
  /** With a store: sessions passivated and restored since creation, and writes waiting. */
  store?: { passivated: number; restored: number; backlog: number };
  /** With a cluster: this node, the live nodes, and the sessions this node owns. */
  cluster?: { nodeId: string; nodes: string[]; leaseHeld: boolean; owned: number; known: number };
}

/** Telemetry event names (also `node:diagnostics_channel` channels `session-process:<name>`). */
export type TelemetryName =
  | 'start'
  | 'stop'
  | 'call'
  | 'cast'
  | 'crash'
  | 'expire'
  | 'rate-limited';

/** Payload of each telemetry event. Durations are in milliseconds. */
export interface TelemetryEvents {
  start: {
    sessionId: string;
    logic: string;
    durationMs: number;
    restart: boolean;
    /** True when the session was brought back from the store rather than started. */
    restored?: boolean;
  };
  stop: { sessionId: string; logic: string; reason: EndReason; lifetimeMs: number };
  call: {
    sessionId: string;
    eventType: string;
    durationMs: number;
    outcome: 'reply' | 'until' | 'error';
    errorCode?: string;
  };
  cast: { sessionId: string; eventType: string };
  crash: { sessionId: string; logic: string; error: unknown; restarting: boolean };
  expire: { sessionId: string; logic: string; idleMs: number; cause: 'idle' | 'lifetime' };
  'rate-limited': { sessionId: string; limit: number; intervalMs: number; retryAfterMs: number };
}

/** Options of `createSessionSupervisor`. */
export interface SupervisorOptions<
  TLogic extends AnyActorLogic = AnyActorLogic,
  TLogics extends Record<string, AnyActorLogic> = Record<string, AnyActorLogic>,
> {
  /** Default session logic (the seed's `session_process` config). */
  logic?: TLogic;
  /** Named logics, chosen at start with `{ logic: name }`. */
  logics?: TLogics;
  /**
   * Bound on the microsteps of one event's step, for state machines that set no
   * `options.maxIterations` of their own. A step past it (an `always` cycle, a `raise` that
   * re-enters its own state) crashes that session alone instead of blocking the process.
   * @default 10_000
   */
  maxMicrosteps?: number;
  /** More starts are refused with `SESSION_LIMIT_REACHED`. @default 100_000 */
  maxSessions?: number;
  /** A session without activity for this long ends with reason `expired`. `0` disables. @default 1_800_000 (30 min) */
  idleTimeoutMs?: number;
  /** Absolute lifetime of a session; it ends with reason `expired`. @default undefined (none) */
  maxLifetimeMs?: number | undefined;
  /** Default timeout of `call`. @default 5_000 */
  callTimeoutMs?: number;
  /** Session creations allowed per interval; beyond it `RATE_LIMITED`. `false` disables. @default { limit: 1_000, intervalMs: 1_000 } */
  startRate?: { limit: number; intervalMs: number } | false;
  /**
   * Restart policy after a crash, per session: the session restarts from its initial state with
   * the same ID, logic and input, keeping its subscribers; after `maxRestarts` within `withinMs`
   * it ends with reason `crashed`.
   * @default { onCrash: false, maxRestarts: 3, withinMs: 60_000 }
   */
  restart?: { onCrash: boolean; maxRestarts?: number; withinMs?: number };
  /**
   * How long an ID that `rename` (Koa's `rotate()`) moved away from answers `SESSION_ROTATED`
   * instead of `SESSION_NOT_FOUND`, and cannot be started again: concurrent requests that still
   * carry the old ID then get a retryable answer instead of a fresh, empty session. `0` disables.
   * @default 30_000
   */
  rotatedIdTtlMs?: number;
  /** Whether a session with subscribers is kept from idling out. @default true */
  subscribersKeepAlive?: boolean;
  /** XState clock for the session actors' delayed events (XState's `SimulatedClock` in tests). */
  clock?: {
    setTimeout(fn: (...args: any[]) => void, timeout: number): any;
    clearTimeout(id: any): void;
  };
  /** XState inspection observer for the whole system (the supervisor and every session). */
  inspect?: (event: any) => void;
  /**
   * Where sessions are kept across passivation and restarts: `memoryStore()`,
   * `sqliteStore(...)` from `session-process/sqlite`, `redisStore(...)` from
   * `session-process/redis`, or your own {@link SessionStore}. With a store, a session exists
   * while it is in memory or in the store.
   * @default undefined (sessions live in memory only)
   */
  store?: SessionStore | undefined;
  /**
   * When a change is saved. `'eventual'`: soon after, coalesced, at most one write per session
   * in flight. `'durable'`: a `call` settles only after the change it caused is saved (a group
   * commit across sessions), so an acknowledged call survives `kill -9`. `'none'`: only on
   * passivation and shutdown.
   * @default 'eventual' with a store, 'none' without
   */
  durability?: Durability;
  /**
   * A session without activity (call, cast, touch) for this long leaves memory and stays in the
   * store, to come back on its next use; its timers still fire on time. Sessions with
   * subscribers or waiting calls stay. Needs a `store`.
   * @default undefined (never)
   */
  passivateAfterMs?: number | undefined;
  /**
   * Upgrades a stored record written by an older machine before it is restored (rename a state,
   * add a context field). Return the record to use; throw to refuse it (`SESSION_RESTORE_FAILED`).
   */
  migrate?: ((record: SessionRecord) => SessionRecord) | undefined;
  /**
   * How often the store's due-time index is polled for passivated sessions whose timers or
   * deadlines fell due (sessions saved by an earlier process included).
   * @default 1_000
   */
  wakeIntervalMs?: number;
  /** Many processes serving one set of sessions (`redisCluster` from `session-process/redis`). */
  cluster?: ClusterAdapter | undefined;
  /** Where errors that belong to nobody go (a subscriber that threw, a crash, a store that failed). @default console.error */
  onError?: (
    error: unknown,
    info: { sessionId?: string; source: 'crash' | 'listener' | 'store' | 'cluster' },
  ) => void;
}

/**
 * What the `cluster` option takes (`redisCluster(...)` from `session-process/redis`): it wraps the
 * supervisor of this process, which holds the sessions this node owns, into one that serves every
 * session ID from any node.
 */
export interface ClusterAdapter {
  /**
   * Builds the node's supervisor. `createLocal` makes the in-process supervisor for the sessions
   * this node owns, from options the cluster may change (its fenced `store`, say).
   */
  createSupervisor(
    options: Omit<SupervisorOptions, 'cluster'>,
    createLocal: (options: Omit<SupervisorOptions, 'cluster'>) => SessionSupervisor,
  ): SessionSupervisor;
}

/**
 * A bound view of one session, returned by `start`, `ensure` and `get`: the supervisor's methods
 * with the ID filled in. Cheap (it holds only the ID); it does not keep the session alive.
 *
 * @example
 * ```ts
 * const cart = await sessions.ensure(sessionId);
 * cart.cast({ type: 'cart.add', sku: 'A1' });
 * const view = await cart.call<CartView>({ type: 'cart.get' });
 * ```
 */
export interface SessionHandle<TContext = any> {
  /**
   * The session ID.
   * @example
   * ```ts
   * ctx.cookies.set('sid', handle.id);
   * ```
   */
  readonly id: string;
  /**
   * The name of the logic the session runs (`'default'` for the supervisor's `logic`).
   * @example
   * ```ts
   * if (handle.logic === 'wizard') await handle.call({ type: 'wizard.resume' });
   * ```
   */
  readonly logic: string;
  /**
   * The session's XState actor, for XState's own APIs (`waitFor`, `getSnapshot`). Throws
   * `SESSION_NOT_FOUND` once the session has ended.
   * @example
   * ```ts
   * await waitFor(handle.actor, (s) => s.matches('paid'), { timeout: 5_000 });
   * ```
   */
  readonly actor: AnyActorRef;
  /**
   * Sends an event and waits for the machine's `reply` (see {@link SessionSupervisor.call}).
   * @example
   * ```ts
   * const total = await handle.call<number>({ type: 'cart.total' }, { timeoutMs: 1_000 });
   * ```
   */
  call<T = unknown, TEvent extends EventObject = EventObject>(
    event: TEvent,
    options?: CallOptions<TContext>,
  ): Promise<T>;
  /**
   * Sends an event without waiting (see {@link SessionSupervisor.cast}).
   * @example
   * ```ts
   * handle.cast({ type: 'cart.clear' });
   * ```
   */
  cast<TEvent extends EventObject>(event: TEvent): void;
  /**
   * The session's current state as plain data (see {@link SessionSupervisor.snapshot}).
   * @example
   * ```ts
   * const { value, context, version } = handle.snapshot();
   * ```
   */
  snapshot(): SessionSnapshot<TContext>;
  /**
   * Follows the session's changes until it ends (see {@link SessionSupervisor.subscribe}).
   * @example
   * ```ts
   * const off = handle.subscribe((msg) => msg.type === 'ended' && off());
   * ```
   */
  subscribe(
    listener: (message: SessionMessage<TContext>) => void,
    options?: SubscribeOptions<TContext>,
  ): () => void;
  /**
   * Counts as activity: the idle timeout starts again. Whether the session exists.
   * @example
   * ```ts
   * handle.touch();
   * ```
   */
  touch(): boolean;
  /**
   * Ends the session (reason `terminated`); with a store, deletes its record.
   * @example
   * ```ts
   * await handle.terminate(); // on logout
   * ```
   */
  terminate(): Promise<void>;
}

/**
 * The supervisor: starts, finds and stops session actors by session ID. `TEvent` is the union of
 * the events its logics accept (from `createSessionSupervisor`'s options), so `call` and `cast`
 * refuse a misspelt event at compile time.
 *
 * @example
 * ```ts
 * const sessions = createSessionSupervisor({ logic: cartMachine, idleTimeoutMs: 30 * 60_000 });
 * await sessions.ensure(id);
 * await sessions.call(id, { type: 'cart.add', sku: 'A1' }, { until: (s) => s.context.items.length > 0 });
 * ```
 */
export interface SessionSupervisor<TEvent extends EventObject = AnyEventObject> {
  /**
   * Starts a session under `id` (the seed's `start`). Rejects with `SESSION_ALREADY_STARTED`
   * when it exists (in memory or in the store), `INVALID_SESSION_ID`, `UNKNOWN_LOGIC`,
   * `SESSION_LIMIT_REACHED`, `RATE_LIMITED`, `SESSION_ROTATED` or `SESSION_INIT_FAILED`.
   * @example
   * ```ts
   * const handle = await sessions.start(generateSessionId(), { logic: 'wizard', input: { plan: 'pro' } });
   * ```
   */
  start<TContext = any>(id: string, options?: StartOptions): Promise<SessionHandle<TContext>>;
  /**
   * Get-or-start: the running (or stored) session, else a new one (what the Koa middleware uses).
   * @example
   * ```ts
   * const handle = await sessions.ensure(ctx.session.sessionId);
   * ```
   */
  ensure<TContext = any>(id: string, options?: StartOptions): Promise<SessionHandle<TContext>>;
  /**
   * Whether the session exists: in memory, or in a store that loads synchronously.
   * @example
   * ```ts
   * if (!sessions.started(id)) ctx.throw(401);
   * ```
   */
  started(id: string): boolean;
  /**
   * The handle of a session in memory, or `undefined`.
   * @example
   * ```ts
   * sessions.get(id)?.cast({ type: 'ping' });
   * ```
   */
  get<TContext = any>(id: string): SessionHandle<TContext> | undefined;
  /**
   * Sends `event` and waits for the machine's `reply(value)`, in the same step or later
   * (`reply(value, { to: callIdOf(event) })`), or with `until` for the first snapshot that
   * satisfies it. Rejects with `CALL_TIMEOUT`, `SESSION_NOT_FOUND`, `EVENT_NOT_ACCEPTED` (at
   * once, when the current state cannot take the event), `SESSION_ENDED` or `SESSION_CRASHED`;
   * with `durable`, it settles once the change it caused is saved.
   * @example
   * ```ts
   * const result = await sessions.call<PaymentResult>(id, { type: 'checkout.pay', card }, { timeoutMs: 10_000 });
   * ```
   */
  call<TReply = unknown, TContext = any>(
    id: string,
    event: TEvent,
    options?: CallOptions<TContext>,
  ): Promise<TReply>;
  /**
   * Sends `event` without waiting (the seed's `cast`). Throws `SESSION_NOT_FOUND` for a missing
   * session; what the machine does with it is its own business.
   * @example
   * ```ts
   * sessions.cast(id, { type: 'cart.add', sku: 'A1', qty: 2 });
   * ```
   */
  cast(id: string, event: TEvent): void;
  /**
   * The session's current state as plain, serializable data, with a `version` that grows with
   * every change.
   * @example
   * ```ts
   * const { value, context } = sessions.snapshot<CartContext>(id);
   * ```
   */
  snapshot<TContext = any>(id: string): SessionSnapshot<TContext>;
  /**
   * Calls `listener` with each new snapshot (only when the selected value changes, with
   * `select`), then exactly once with `{ type: 'ended', reason }`: the seed's live-view monitor
   * and its `:session_expired`. Returns the unsubscribe function.
   * @example
   * ```ts
   * const off = sessions.subscribe(id, (msg) => {
   *   if (msg.type === 'ended') socket.close(4001, msg.reason);
   *   else socket.send(JSON.stringify(msg.snapshot.context));
   * });
   * ```
   */
  subscribe<TContext = any, TSelected = unknown>(
    id: string,
    listener: (message: SessionMessage<TContext, TSelected>) => void,
    options?: SubscribeOptions<TContext, TSelected>,
  ): () => void;
  /**
   * Counts as activity (the idle timeout starts again); whether the session exists.
   * @example
   * ```ts
   * const alive = sessions.touch(id);
   * ```
   */
  touch(id: string): boolean;
  /**
   * The sessions in this process's memory, in start order (`offset`/`limit` to page).
   * @example
   * ```ts
   * for (const s of sessions.list({ limit: 50 })) console.log(s.id, s.value);
   * ```
   */
  list(options?: ListOptions): SessionInfo[];
  /**
   * Sessions in this process's memory.
   * @example
   * ```ts
   * metrics.set(sessions.count);
   * ```
   */
  readonly count: number;
  /**
   * Counters and gauges: sessions by logic, starts, ends by reason, calls, casts, refusals.
   * @example
   * ```ts
   * const { total, pendingCalls, ended } = sessions.stats();
   * ```
   */
  stats(): SupervisorStats;
  /**
   * Ends a session (reason `terminated`; subscribers are told, waiting calls rejected with
   * `SESSION_ENDED`) and deletes its record from the store.
   * @example
   * ```ts
   * await sessions.terminate(id);
   * ```
   */
  terminate(id: string): Promise<void>;
  /**
   * Brings a stored session into memory if it is not there; whether the session exists. Needed
   * only with a store that cannot load synchronously (Redis) before `snapshot` or `subscribe`.
   * Rejects with `SESSION_ROTATED` for an ID that was just rotated away.
   * @example
   * ```ts
   * if (await sessions.restore(id)) sessions.subscribe(id, onMessage);
   * ```
   */
  restore(id: string): Promise<boolean>;
  /**
   * Gives a running session a new ID, state and timers kept (Koa's `rotate()` after a login).
   * Subscribers of the old ID get `ended` with reason `rotated`; the old ID answers
   * `SESSION_ROTATED` for `rotatedIdTtlMs` and reaches nothing.
   * @example
   * ```ts
   * const handle = await sessions.rename(oldId, generateSessionId());
   * ```
   */
  rename(id: string, newId: string): Promise<SessionHandle>;
  /**
   * Ends every session (reason `shutdown`) after saving them to the store, and refuses new
   * ones. Call it when the process drains (SIGTERM).
   * @example
   * ```ts
   * process.once('SIGTERM', async () => { server.close(); await sessions.shutdown(); });
   * ```
   */
  shutdown(): Promise<void>;
  /**
   * Listens to a telemetry event in this process (also published on `node:diagnostics_channel`
   * as `session-process:<name>`). Returns the function that stops listening.
   * @example
   * ```ts
   * sessions.on('crash', ({ sessionId, error }) => log.error({ sessionId, error }));
   * ```
   */
  on<TName extends TelemetryName>(
    name: TName,
    listener: (event: TelemetryEvents[TName]) => void,
  ): () => void;
  /**
   * The logic a session in memory was started with, or `undefined`.
   * @example
   * ```ts
   * const machine = sessions.logicOf(id);
   * ```
   */
  logicOf(id: string): AnyActorLogic | undefined;
  /**
   * Named logics (including `default` when `logic` was given).
   * @example
   * ```ts
   * Object.keys(sessions.logics); // ['cart', 'wizard']
   * ```
   */
  readonly logics: Readonly<Record<string, AnyActorLogic>>;
  /**
   * `true` on a cluster node (`redisCluster`): a session may run on another node, where
   * `snapshot(id)` answers from the last snapshot this node saw and `await restore(id)` fetches
   * the current one (the Koa middleware does so on every request). Absent in one process.
   * @example
   * ```ts
   * if (sessions.distributed) await sessions.restore(id);
   * const { context } = sessions.snapshot(id);
   * ```
   */
  readonly distributed?: boolean;
  /**
   * The supervisor's root actor: the session actors are its children in one XState system.
   * @example
   * ```ts
   * sessions.actor.getSnapshot().status; // 'active'
   * ```
   */
  readonly actor: AnyActorRef;
  /**
   * The XState system every session actor belongs to.
   * @example
   * ```ts
   * sessions.system.get(id); // the session's actor
   * sessions.system.inspect((event) => console.log(event.type));
   * ```
   */
  readonly system: ActorSystem<any>;
}
