import type { AnyActorLogic, AnyActorRef, ActorSystem, AnyEventObject, EventObject } from 'xstate';
import type {
  CallOptions,
  ListOptions,
  SessionInfo,
  SessionMessage,
  SessionPage,
  SessionPresence,
  SessionSnapshot,
  StartOptions,
  SubscribeOptions,
  SessionVersionCount,
  SupervisorStats,
  TelemetryEvents,
  TelemetryName,
} from './types.js';
import type { QuarantinedSession } from './store/SessionStore.js';

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
   * The session's current snapshot, from wherever it runs: in one process, as `snapshot` (a stored
   * session is brought back first); on a cluster node, asked of the node that owns the session
   * (the first node that needs an unowned one activates it), never what this node saw last.
   * Rejects with `SESSION_NOT_FOUND`, `SESSION_ROTATED` or `STORE_UNAVAILABLE`.
   * @example
   * ```ts
   * const { value, context } = await sessions.read<CartContext>(id); // on any node
   * ```
   */
  read<TContext = any>(id: string): Promise<SessionSnapshot<TContext>>;
  /**
   * Where the session is: `'running'` (in memory here or, in a cluster, on some node), `'stored'`
   * (only in the store), `'rotated'` (its ID was rotated away a moment ago) or `'absent'`.
   * Nothing happens to the session: no restore, no activation, no activity counted.
   * Rejects with `INVALID_SESSION_ID` or `STORE_UNAVAILABLE`.
   * @example
   * ```ts
   * if ((await sessions.status(id)) === 'absent') ctx.redirect('/start');
   * ```
   */
  status(id: string): Promise<SessionPresence>;
  /**
   * Hands this process's sessions over: each one in memory is saved and leaves memory once its
   * waiting calls are answered (at most `timeoutMs`), as a quiet period would do. On a cluster
   * node (`redisCluster`) it also gives up their leases and tells their watchers on every node,
   * so other nodes take them over at once, and from then on the node activates no session:
   * operations it is asked for go to other nodes. Resolves with the number of sessions handed
   * over. What SIGTERM should do before `shutdown()`. Without a store there is nothing to hand
   * over (resolves with 0).
   * @default timeoutMs 5_000 (ms)
   * @example
   * ```ts
   * process.once('SIGTERM', async () => {
   *   server.close();
   *   await sessions.drain();
   *   await live.close(); // views reconnect, to another node
   *   await sessions.shutdown();
   *   process.exit(0);
   * });
   * ```
   */
  drain(options?: { timeoutMs?: number }): Promise<number>;
  /**
   * @internal A start window that every node of a cluster shares (in Redis), where the Koa
   * middleware counts its per-client start limit (`clientStartRate`): resolves with 0 when the
   * start may go ahead, else the milliseconds until the client's window closes. Absent in one
   * process, where the middleware counts in its own memory.
   */
  takeClientStart?(client: string, limit: number, intervalMs: number): Promise<number>;
  /**
   * @internal The sessions in memory on every node (in one process: `list()` and `count`), for the
   * visualizer. Rows of other nodes come from the nodes that answered within a short time.
   */
  listAll(options?: ListOptions): Promise<SessionPage>;
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
   * @internal {@link touch} for a session in this process's memory only: nothing restored,
   * routed or awaited; false for any other (which `status` then sorts out). The Koa middleware's
   * path for a request whose ID is live (bench/http: a promise and an await less per request than
   * `await status(id)`). Absent where a supervisor cannot tell at once.
   */
  touchResident?(id: string): boolean;
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
   * Sessions per logic and version, read from the store (every stored session, passivated ones
   * included) and from memory: when no row of a version has any left, its machine and migration
   * can go. Without a store (or a store without `versions()`), `stored` is 0 everywhere.
   * @example
   * ```ts
   * for (const row of await sessions.versions()) console.log(row.logic, row.version, row.stored);
   * ```
   */
  versions(): Promise<SessionVersionCount[]>;
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
   * The store's quarantined records, the oldest quarantine first (at most 10,000): sessions whose
   * record could not be restored (corrupt, an unknown logic, a state the machine no longer has).
   * Each was reported once (`onError`, `SESSION_RESTORE_FAILED`) and is kept, never restored,
   * until `quarantineRetentionMs` has passed or `forget(id)` deletes it. Empty without a store.
   * @example
   * ```ts
   * for (const { id, quarantinedAt, reason } of await sessions.quarantined())
   *   console.log(id, new Date(quarantinedAt).toISOString(), reason);
   * ```
   */
  quarantined(): Promise<QuarantinedSession[]>;
  /**
   * Deletes a session for good, whatever its state: a running one ends (reason `terminated`, as
   * with `terminate`), and its record is deleted from the store, stored, quarantined or written
   * by a newer version alike. No error when there is no such session.
   * @example
   * ```ts
   * for (const { id } of await sessions.quarantined()) await sessions.forget(id);
   * ```
   */
  forget(id: string): Promise<void>;
  /**
   * Ends every session (reason `shutdown`) after saving them to the store, and refuses new
   * ones. Call it when the process drains (SIGTERM). Returns within `shutdownTimeoutMs`
   * whatever the store does; a session it could not save is reported to `onError`.
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
   * `snapshot(id)` answers from the last snapshot this node saw. Absent in one process. Code
   * that works on both needs no flag: `await read(id)` answers the owner's current snapshot and
   * `await status(id)` where the session is, on every supervisor.
   * @example
   * ```ts
   * const snapshot = sessions.distributed ? await sessions.read(id) : sessions.snapshot(id);
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
