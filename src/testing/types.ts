import type { AnyMachineSnapshot, AnyStateMachine, EventObject } from 'xstate';
import type { SessionSupervisor, SupervisorOptions } from '../index.js';
import type { TestClock } from './TestClock.js';

/** A session's state as the model compares it: what `snapshot()` (or a driver) reports. */
export interface ModelState {
  value: unknown;
  /**
   * Absent when a driver cannot see the context: then give the model a `serializeState` that
   * leaves it out (the default key holds it), and no `compareContext`.
   */
  context?: unknown;
  /**
   * `'done'` once the machine reached a top-level final state (its session has then ended);
   * compared with the model's when the driver reports it.
   */
  status?: 'active' | 'done' | 'error' | 'stopped';
}

/** What `checkReply` receives for each reply a `call` got. */
export interface ReplyCheck {
  /** The event sent with `call`. */
  event: EventObject;
  /** The value the session replied with. */
  reply: unknown;
  /**
   * The model's state after the step at which the reply arrived: the call's own step for a reply
   * in the same step, the done or error step of an invocation for a reply sent when it settles.
   */
  expected: ModelState;
}

/** An event with its payload, as the model sends it (`{ type: 'cart.add', sku: 'A1' }`). */
export type ModelEvent = EventObject & { [key: string]: unknown };

/** Options of `createSessionTestModel`. */
export interface SessionTestModelOptions {
  /**
   * The events to try in each state, with their payloads (`{ type: 'cart.add', sku: 'A1' }`).
   * Only the events a state handles are tried there. Delayed events (`after`) are added by the
   * model; list done and error events of invoked actors yourself, with the output or error to
   * test: `{ type: 'xstate.done.actor.payment', output: { ok: true, orderId: 'o1' } }`,
   * `{ type: 'xstate.error.actor.payment', error: 'down' }`.
   */
  events: readonly ModelEvent[] | ((snapshot: AnyMachineSnapshot) => readonly ModelEvent[]);
  /**
   * Identity of a state, for the traversal and for the check after each step. The default keeps
   * the value and the context, as `xstate/graph` does: two snapshots that differ only in context
   * are two states, each explored, so a guard on context and the action that set it are both
   * tested. Make it coarser when the context grows without bound (a counter, a list that only
   * grows; the traversal stops naming the field, see `maxDistinctValues`; `stateKey` builds a
   * key from classes of fields) or holds what the driver cannot report; keep in it whatever a
   * guard reads: a key that merges states whose guards decide differently is refused, naming
   * both. The history memory, pending delays and running invocations are always added to it.
   * @default the value and the context as JSON with sorted keys (`{"value":…,"context":…}`; an
   * empty context left out)
   * @example `serializeState: ({ value, context }) => JSON.stringify({ value, skus: context.items.map((i) => i.sku) })`
   */
  serializeState?: (state: ModelState) => string;
  /**
   * Also compare this projection of the context after each step (JSON with sorted keys).
   * @default undefined (context not compared)
   * @example `compareContext: (context) => ({ items: context.items, user: context.user })`
   */
  compareContext?: (context: any) => unknown;
  /** The machine's input, for the model and for every session started. @default undefined */
  input?: unknown;
  /**
   * Event types sent with `call` (their replies are awaited and given to `checkReply`); every
   * other event is sent with `cast`.
   * @default []
   */
  calls?: readonly string[];
  /** Checks a reply; throw (an assertion, say) to fail the path at the step where it arrived. */
  checkReply?: (check: ReplyCheck) => void;
  /** Name in titles and printed coverage. @default the machine's id */
  name?: string;
  /**
   * Most traversal steps (a configuration and a step tried there) before the model gives up;
   * it bounds every strategy, `'simple'` too (whose paths grow exponentially with loops).
   * @default 100_000
   */
  limit?: number;
  /**
   * Most distinct values one top-level context field may take across the states explored
   * before the traversal stops and names it as a field that grows without bound (a list only
   * appended to, a counter): found in well under a second, instead of at `limit` or when the
   * heap runs out. Key such a field on its classes with `stateKey`.
   * @default 1_000
   * @example `maxDistinctValues: 5_000` (a field with that many legitimate values)
   */
  maxDistinctValues?: number;
  /**
   * Makes `Math.random` deterministic: while the model computes a step, and while the session
   * under test takes it (in-process drivers; others get it through `SessionDriver.seed`), it
   * draws from a generator seeded with this seed and the step, so a machine that uses
   * randomness (ids, jitter, a shuffled deck) takes the same path in both. Printed with every
   * failure. Without it, a model whose steps differ between two computations is reported as
   * nondeterministic (not as a failure of the implementation).
   * @default undefined (Math.random left alone)
   * @example `seed: 42`
   */
  seed?: number;
  /**
   * What each invoked actor emits while it runs, by invocation id: for a callback actor
   * (`fromCallback`), the events it sends back; for an observable (`fromObservable`), the
   * values it emits (its parent gets `xstate.snapshot.<id>`). The traversal tries each one
   * whenever that invocation runs and its parent handles it, and the runner makes the
   * stand-in emit it. Completion and errors are listed in `events`, as
   * `xstate.done.actor.<id>` and `xstate.error.actor.<id>`.
   * @default {}
   * @example `emitted: { ticker: [{ type: 'tick' }], prices: [101, 99] }`
   */
  emitted?: Readonly<Record<string, readonly unknown[]>>;
  /** The default `minCoverage` of this model's runs (a run's own option wins). @default 100 */
  minCoverage?: MinCoverage;
}

/**
 * Percentages (0–100) of states and of transitions a run must reach; one number for both.
 * Below it, `report.failures` gets a coverage entry (and `describe()`'s coverage test fails).
 */
export type MinCoverage = number | { states?: number; transitions?: number };

/** How paths are generated. */
export type PathStrategy = 'transitions' | 'shortest' | 'simple';

/** A generated path: the events sent from the initial state. */
export interface TestPath {
  /** Readable: `cart.add {"sku":"A1"} › checkout.start ⇒ auth.anonymous | cart.shopping.active`. */
  readonly title: string;
  readonly events: readonly EventObject[];
}

/** A path that failed. */
export interface TestFailure {
  /** Title of the path. */
  title: string;
  /** The events sent up to and including the failing step (the path so far). */
  path: EventObject[];
  /** 1-based index of the failing step; `0` is the initial state, `-1` the coverage check. */
  step: number;
  /** The state the model expected (serialized; with the context projection when compared). */
  expected: string;
  /** The state found (serialized), or what went wrong instead. */
  actual: string;
  /** All of the above, readable. */
  message: string;
}

/** Reached against total, with what was not reached. */
export interface CoverageFigure {
  reached: number;
  total: number;
  /** State ids, or transition labels (`cart.cart.shopping.active on cart.clear`), not reached. */
  missing: string[];
}

/** States and transitions of the machine that passing steps reached. */
export interface Coverage {
  states: CoverageFigure;
  transitions: CoverageFigure;
}

/** What `run` returns. */
export interface TestReport {
  /** Empty when every path passed and coverage met `minCoverage`. */
  failures: TestFailure[];
  coverage: Coverage;
  paths: Array<TestPath & { ok: boolean }>;
  /** Paths planned but not run (cut by `maxPaths`, or after `maxFailures`). */
  pathsNotRun: number;
}

/** What a driver's `send` may return. */
export interface SentEvent {
  /** The reply of a `call`, when it does not arrive at once (settled later by the runner). */
  reply?: Promise<unknown>;
}

/**
 * Drives one session at a time for the runner: the in-process supervisor by default, or any
 * other way in (an app's HTTP routes, a live bridge).
 */
export interface SessionDriver {
  /** Starts a fresh session for the next path. */
  start(input: unknown): Promise<void> | void;
  /**
   * Delivers one event. Resolve once the session has processed it (over a channel without
   * acknowledgements, follow a cast with a call every state answers: otherwise an event the model
   * expects to be refused can pass unchecked); for a `call` whose reply comes later, resolve at
   * once with `{ reply }` (a promise the runner watches).
   */
  send(
    event: EventObject,
    options: { call: boolean },
    // biome-ignore lint/suspicious/noConfusingVoidType: a driver's `async send() {}` returns nothing
  ): Promise<SentEvent | undefined | void> | SentEvent | undefined | void;
  /** The session's current state. */
  state(): Promise<ModelState> | ModelState;
  /** Ends the session of the path. */
  stop(): Promise<void> | void;
  /** Releases the driver after the last path. */
  close?(): Promise<void> | void;
  /**
   * Called before the session is started and before each step with the seed `Math.random`
   * draws from for it (when the run has a `seed`). An in-process run replaces `Math.random`
   * itself; a driver whose session runs elsewhere (another process) makes the machine there
   * draw from `createSeededRandom(seed)` for the step.
   * @example `seed: (seed) => child.send({ type: 'seed', seed })` (the app runs in a child process)
   */
  seed?(seed: number): Promise<void> | void;
  /**
   * How long the runner keeps re-reading `state()` until it matches, for drivers where an
   * event's effect is not visible at once (a call whose HTTP response waits for its reply).
   * @default 0 for the supervisor driver, 1_000 for others
   */
  settleMs?: number;
}

/** What a `drive` factory receives: use these, so time and invocations stay under the runner's control. */
export interface DriveContext {
  /** The implementation to run, its invoked actors controlled by the runner. */
  logic: AnyStateMachine;
  /** The clock to give the supervisor (`clock` option). */
  clock: TestClock;
  /** Options for a supervisor that runs `logic` on `clock` (idle expiry and start rate off). */
  supervisorOptions: SupervisorOptions;
  /** The model's input. */
  input: unknown;
}

/** Options of `run` (and of `describe`). */
export interface RunOptions {
  /** @default 'transitions' */
  paths?: PathStrategy;
  /**
   * The supervisor to run the paths in: a factory given the options it must use (logic, clock),
   * or an instance created with `logic: model.implementation()` and `clock: model.clock` (its
   * default logic is started).
   * @default a fresh `createSessionSupervisor(...)`, shut down afterwards
   */
  supervisor?:
    | SessionSupervisor
    | ((options: SupervisorOptions) => SessionSupervisor | Promise<SessionSupervisor>);
  /** More options for the supervisor the runner creates (`callTimeoutMs`, `maxSessions`, ...). */
  sessionOptions?: Omit<SupervisorOptions, 'logic' | 'logics' | 'clock'>;
  /** Runs the paths through this driver instead (created once per run, closed at the end). */
  drive?: (context: DriveContext) => SessionDriver | Promise<SessionDriver>;
  /**
   * The implementation under test, when it differs from the model (for example
   * `machine.provide(...)` with other actions or guards).
   * @default the model's machine
   */
  implementation?: AnyStateMachine;
  /**
   * Least coverage that passes, in percent of states and of transitions reached by passing
   * steps. Anything less is a failure naming what was not reached and why that usually happens.
   * @default the model's `minCoverage`, else 100
   * @example `minCoverage: { states: 100, transitions: 95 }` (the API has no route for one event)
   */
  minCoverage?: MinCoverage;
  /** @deprecated the same as `minCoverage` (which wins when both are given). */
  coverage?: { states?: number; transitions?: number };
  /** Prints the coverage summary: `true` to `console.log`, or a function. @default true */
  print?: boolean | ((text: string) => void);
  /**
   * Most paths to run. Paths beyond it are not run, and that is reported: in
   * `report.pathsNotRun`, in the printed summary, and in the coverage failure when what they
   * would have reached is missing.
   * @default Infinity
   */
  maxPaths?: number;
  /** Stops running paths after this many have failed (`run` only). @default Infinity */
  maxFailures?: number;
  /**
   * The seed of this run (see `SessionTestModelOptions.seed`): the paths are planned with it.
   * @default the model's `seed`
   * @example `run({ seed: 7 })` (another draw of the same machine)
   */
  seed?: number;
}

/** The vitest functions `describe` registers tests with. */
export interface VitestApi {
  describe: (name: string, factory: () => void) => unknown;
  /** vitest passes its test context (`skip()` is used when only some paths ran). */
  it: (
    name: string,
    fn: (context?: { skip?: (note?: string) => void }) => Promise<void>,
  ) => unknown;
  beforeAll?: (fn: () => Promise<void> | void) => unknown;
  afterAll?: (fn: () => Promise<void> | void) => unknown;
}
