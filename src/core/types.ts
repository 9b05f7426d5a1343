import type { AnyActorLogic } from 'xstate';
import type { SessionSupervisor } from './SessionSupervisor.js';
import type { SessionRecord } from './persistence/record.js';
import type { SessionStore } from './store/SessionStore.js';

/** When changes reach the store: see {@link SupervisorOptions.durability}. */
export type Durability = 'none' | 'eventual' | 'durable';

/** Why a session ended. Every subscriber gets exactly one `ended` message with one of these. */
export type EndReason = 'terminated' | 'expired' | 'crashed' | 'shutdown';

/** Status of a session's actor snapshot, as XState reports it. */
export type SessionStatus = 'active' | 'done' | 'error' | 'stopped';

/**
 * Where a session is, as `sessions.status(id)` answers: `running` (in memory, on this process or,
 * in a cluster, on some node), `stored` (only in the store: passivated, or waiting for its next
 * node), `rotated` (its ID was rotated away less than `rotatedIdTtlMs` ago), `absent` (never
 * started, or ended).
 */
export type SessionPresence = 'running' | 'stored' | 'rotated' | 'absent';

/** One page of the sessions in memory on every node of a cluster (what the visualizer lists). */
export interface SessionPage {
  /** Sessions in memory on every node that answered. */
  total: number;
  rows: SessionInfo[];
}

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

/** One row of `sessions.versions()`: sessions of one logic at one version. */
export interface SessionVersionCount {
  /** The logic's name (`cart`; `default` for the supervisor's `logic`). */
  logic: string;
  /** The machine's `version`, or `null` for records written without one. */
  version: string | null;
  /** Records in the store (passivated sessions and running ones already written). */
  stored: number;
  /** Sessions running in this process's memory (they run the newest version of their logic). */
  running: number;
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
  /**
   * Sessions running now, per logic and machine `version` (a logic without one under `''`):
   * `{ cart: { '3': 12 } }`. Restored sessions run the newest version of their logic.
   */
  versions: Record<string, Record<string, number>>;
  /**
   * With a store: sessions passivated and restored since creation, writes waiting, and records
   * migrated on restore by the version they came from (`{ '1': 4, '2': 1 }`).
   */
  store?: {
    passivated: number;
    restored: number;
    /** Sessions waiting to be written (not counting a write in flight). */
    backlog: number;
    migrated: Record<string, number>;
    /**
     * Changes made in memory and not saved yet, over all sessions in memory (each session's
     * version minus its saved version). With `'eventual'` (and `'none'`) these are changes
     * already acknowledged: what this process loses if it dies now, or, in a cluster, if it loses
     * a session's lease now (a paused process, a Redis restart, a network partition). With
     * `'durable'` no acknowledged call is among them: its caller is still waiting.
     */
    unsaved: number;
    /**
     * Changes dropped without being saved since the supervisor was created: sessions that left
     * this process with unsaved changes (a cluster node that lost their lease, a write refused
     * because another node wrote the session), and changes `shutdown()` could not save by its
     * deadline. With `'eventual'` they had been acknowledged. A crash's losses are not counted
     * (nothing is left to count them).
     */
    lost: number;
    /** Records this process quarantined (they could not be restored). */
    quarantined: number;
  };
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
  /**
   * Time budget of one event's step, in milliseconds, for state machines: checked between
   * microsteps, so a loop whose microsteps are each slow ends (the session alone, as `crashed`,
   * its error saying `maxStepMs`) once it has run this long, instead of stalling every other
   * session until `maxMicrosteps` ends it. A single action that blocks cannot be interrupted.
   * @default 50 (milliseconds)
   * @example
   * ```ts
   * createSessionSupervisor({ logic: cartMachine, maxStepMs: 20 });
   * ```
   */
  maxStepMs?: number;
  /**
   * Pending delayed events (`after` transitions, delayed `raise`/`sendTo`) one session may hold.
   * The event whose step would exceed it is refused with `TOO_MANY_TIMERS`: the session keeps
   * the state it had before that event (the step's new state and the effects XState defers to
   * its end, such as scheduling and sending, are dropped; actions that already ran, ran). A `call`
   * rejects with it; a refused `cast` goes to `onError` (`source: 'refused'`). A start whose
   * initial state would exceed it fails with `SESSION_INIT_FAILED`, and a stored record with more
   * timers is not restored (`SESSION_RESTORE_FAILED`).
   * @default 1_000
   * @example
   * ```ts
   * createSessionSupervisor({ logic: cartMachine, maxTimers: 100 });
   * ```
   */
  maxTimers?: number;
  /**
   * Sessions in this process's memory; more starts are refused with `SESSION_LIMIT_REACHED`.
   * Passivated and stored sessions are not counted: see `maxStoredSessions`.
   * @default 100_000
   */
  maxSessions?: number;
  /** A session without activity for this long ends with reason `expired`. `0` disables. @default 1_800_000 (30 min) */
  idleTimeoutMs?: number;
  /** Absolute lifetime of a session; it ends with reason `expired`. @default undefined (none) */
  maxLifetimeMs?: number | undefined;
  /** Default timeout of `call`. @default 5_000 */
  callTimeoutMs?: number;
  /**
   * How long `shutdown()` waits for the store to save the sessions' last changes. It returns by
   * then whatever the store does (a full disk, a hung connection); each session it could not
   * save is reported to `onError` as `STORE_UNAVAILABLE` with the store's own error as `cause`.
   * Meanwhile failed writes are retried with backoff (50 ms doubling to 2 s).
   * @example
   * ```ts
   * const sessions = createSessionSupervisor({ logic, store, shutdownTimeoutMs: 5_000 });
   * process.on('SIGTERM', () => void sessions.shutdown().then(() => process.exit(0)));
   * ```
   * @default 10_000 (milliseconds)
   */
  shutdownTimeoutMs?: number;
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
   * in flight; a call is answered before its change is saved, so a crash, a `shutdown()` past
   * its deadline or, in a cluster, any loss of the session's lease (a paused node, a Redis
   * restart) loses what was not saved yet (`stats().store.unsaved` counts it). `'durable'`: a `call` settles only after the change it caused is saved (a group
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
   * The largest record one session may have in the store, in bytes (UTF-8 JSON). Checked when a
   * record is encoded: a record over it is never written, and the session goes back to its last
   * saved record (it leaves memory; its next use restores that record, or finds no session if
   * none was ever saved). With `durable`, the call whose change made it too large rejects with
   * `RECORD_TOO_LARGE` and is never acknowledged; otherwise (`eventual`, and `none` when it
   * passivates or shuts down) the changes since the last save are lost and `onError` receives
   * `RECORD_TOO_LARGE` (`source: 'store'`). Checked on read too, from the length alone, before
   * anything is parsed: a larger stored record is not restored (`SESSION_RESTORE_FAILED`, the
   * `RECORD_TOO_LARGE` as its cause).
   * @default 1_048_576 (1 MiB)
   * @example
   * ```ts
   * createSessionSupervisor({ logic: cartMachine, store: memoryStore(), maxRecordBytes: 64 * 1024 });
   * ```
   */
  maxRecordBytes?: number;
  /**
   * Sessions the store may hold (passivated ones included): a start beyond it is refused with
   * `SESSION_LIMIT_REACHED`. Counted with the store's `count()` (memory and SQLite have one;
   * Redis and the cluster not yet: the option then fails at construction), asked at most once
   * per `wakeIntervalMs`; starts of this process since the last count are added, so several
   * processes sharing a store may overshoot by the starts of one interval. Needs a store.
   * @default undefined (no bound beyond the store's own)
   * @example
   * ```ts
   * createSessionSupervisor({ logic: cartMachine, store: memoryStore(), maxStoredSessions: 1_000_000 });
   * ```
   */
  maxStoredSessions?: number | undefined;
  /**
   * Signs every record with HMAC-SHA256 and verifies it on restore, for a store that other
   * software can write (a shared Redis, a database other services reach): a record that is not
   * signed with one of these keys is not restored (`SESSION_RESTORE_FAILED`, the cause saying
   * the signature does not match), so nobody without the key can inject a session or a timer.
   * Give several keys to rotate: records are signed with the first and accepted with any. Use at
   * least 32 random bytes per key. Records written before a key was set are refused.
   * @default undefined (records are not signed)
   * @example
   * ```ts
   * createSessionSupervisor({
   *   logic: cartMachine,
   *   store: memoryStore(),
   *   recordKey: [process.env.RECORD_KEY!, process.env.RECORD_KEY_PREVIOUS!],
   * });
   * ```
   */
  recordKey?: string | Uint8Array | ReadonlyArray<string | Uint8Array> | undefined;
  /**
   * How often the store's due-time index is polled for passivated sessions whose timers or
   * deadlines fell due (sessions saved by an earlier process included).
   * @default 1_000
   */
  wakeIntervalMs?: number;
  /**
   * How long a quarantined record (one that could not be restored: corrupt, an unknown logic, a
   * state the machine no longer has) is kept for inspection before the waker deletes it. Until
   * then `sessions.quarantined()` lists it and `store.load(id)` returns it; nothing restores it.
   * @default 604_800_000 (7 days, in ms)
   * @example
   * ```ts
   * createSessionSupervisor({ logics: { cart }, store, quarantineRetentionMs: 24 * 3_600_000 });
   * ```
   */
  quarantineRetentionMs?: number;
  /** Many processes serving one set of sessions (`redisCluster` from `session-process/redis`). */
  cluster?: ClusterAdapter | undefined;
  /** Where errors that belong to nobody go (a subscriber that threw, a crash, a store that failed). @default console.error */
  onError?: (
    error: unknown,
    info: {
      sessionId?: string;
      source: 'crash' | 'listener' | 'store' | 'cluster' | 'refused' | 'migration';
    },
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

export type { SessionHandle, SessionSupervisor } from './SessionSupervisor.js';
