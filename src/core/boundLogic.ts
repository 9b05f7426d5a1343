import type { AnyActorLogic, AnyActorRef, EventObject } from 'xstate';
import { TooManyTimersError } from './errors.js';
import { linkOf } from './reply.js';
import {
  CANCEL_ACTION,
  deferredCount,
  dropDeferred,
  type ExecutableAction,
  type IndexedScheduler,
  indexedSchedulerOf,
  RAISE_ACTION,
  SEND_TO_ACTION,
  type StepScope,
} from './xstateInternals.js';

/** @internal The bounds of one session's step, from the supervisor's options. */
export interface StepLimits {
  /** Microsteps of one step, for machines without an `options.maxIterations` of their own. */
  maxMicrosteps: number;
  /** Milliseconds one step may run, checked between microsteps. */
  maxStepMs: number;
  /** Delayed events a session may have pending. */
  maxTimers: number;
}

interface Machine {
  provide(implementations: object): Machine;
  options: { maxIterations?: number };
  transition(snapshot: unknown, event: EventObject, scope: StepScope): unknown;
  getInitialSnapshot(scope: StepScope, input: unknown): unknown;
}

/**
 * @internal
 * The logic a session actor is created from: for a state machine, a copy (`machine.provide({})`)
 * whose steps are bounded, so that one session's step cannot hold the event loop or the memory
 * that every other session needs. The user's machine object is left as it was.
 *
 * - **Microsteps**: XState has no bound by default, so an `always` cycle or a `raise` that
 *   re-enters its own state never yields; with `maxMicrosteps` (unless the machine sets its own
 *   `options.maxIterations`) the step throws and that session alone ends as `crashed`.
 * - **Time**: a loop whose microsteps are each slow (a guard or an `assign` over a growing
 *   array) stalled every session for 0.3-1.2 s before the microstep bound ended it (issue 22).
 *   XState compares `options.maxIterations` with its microstep count after every microstep, so
 *   an object whose `valueOf` reads the clock ends the step, in the same way, once it has run
 *   `maxStepMs`. A single microstep (one action) cannot be interrupted.
 * - **Timers**: the delayed `raise`/`sendTo` and `cancel` actions of the step are counted as they
 *   resolve, before anything is scheduled (XState defers scheduling to the end of the step). The
 *   one that would leave the session with more than `maxTimers` pending ends the step at once:
 *   the step's new snapshot and every effect it deferred are dropped, the session keeps the
 *   snapshot it had, and the supervisor refuses the event with TOO_MANY_TIMERS. One event that
 *   scheduled 100,000 delays took 13.4 s before (issue 22).
 */
export function boundLogic(logic: AnyActorLogic, limits: StepLimits): AnyActorLogic {
  const machine = logic as unknown as Machine;
  if (typeof machine.provide !== 'function' || typeof machine.options !== 'object') return logic;
  const own = machine.options.maxIterations;
  const budget = new StepBudget(
    own !== undefined && Number.isFinite(own) ? own : limits.maxMicrosteps,
    limits.maxStepMs,
  );
  const bounded = machine.provide({});
  bounded.options = { ...bounded.options, maxIterations: budget as unknown as number };
  const transition = bounded.transition.bind(bounded);
  const initial = bounded.getInitialSnapshot.bind(bounded);
  const maxTimers = limits.maxTimers;
  bounded.transition = (snapshot, event, scope) => {
    const guard = TimerGuard.of(scope, maxTimers);
    const outer = budget.begin();
    const keep = guard ? guard.begin() : 0;
    try {
      return transition(snapshot, event, scope);
    } catch (err) {
      if (guard === undefined || guard.refusal !== err) throw err;
      // The step is refused: its effects are dropped and the session keeps its snapshot.
      dropDeferred(scope.self, keep);
      linkOf(scope.system)?.refused(scope.self, event, err as TooManyTimersError);
      return snapshot;
    } finally {
      guard?.end();
      budget.end(outer);
    }
  };
  bounded.getInitialSnapshot = (scope, input) => {
    // A start cannot be refused by keeping a previous snapshot: it fails (SESSION_INIT_FAILED).
    const guard = TimerGuard.of(scope, maxTimers);
    const outer = budget.begin();
    guard?.begin();
    try {
      return initial(scope, input);
    } finally {
      guard?.end();
      budget.end(outer);
    }
  };
  return bounded as unknown as AnyActorLogic;
}

/**
 * What a bounded machine's `options.maxIterations` is: XState compares it with its microstep
 * count after every microstep, which reads `valueOf`. Outside a step it is just the bound.
 *
 * The budget counts the time the step ran, summed from one microstep to the next, each gap
 * counted as at most a quarter of the budget: a process that the OS descheduled or a garbage
 * collection paused in the middle of a short step has not run that step for long (every other
 * session was paused as well), and ending it would crash an innocent session on a busy machine
 * (a one-microstep step of a counter measured 58 ms of wall time at load 10 on 2 cores). A
 * runaway of quick microsteps still ends after `maxStepMs` of its own work; one whose microsteps
 * are each slower than a quarter of the budget, after about four of them.
 */
class StepBudget {
  /** `performance.now()` at the last check of the current step; 0 outside a step. */
  #lastAt = 0;
  /** Milliseconds the current step has run so far. */
  #ranMs = 0;
  #microsteps = 0;
  readonly #gapMs: number;

  constructor(
    readonly maxMicrosteps: number,
    readonly maxStepMs: number,
  ) {
    this.#gapMs = maxStepMs / 4;
  }

  /** A step begins (maybe inside another session's step): returns what {@link end} restores. */
  begin(): [number, number, number] {
    const outer: [number, number, number] = [this.#lastAt, this.#ranMs, this.#microsteps];
    this.#lastAt = performance.now();
    this.#ranMs = 0;
    this.#microsteps = 0;
    return outer;
  }

  end(outer: [number, number, number]): void {
    [this.#lastAt, this.#ranMs, this.#microsteps] = outer;
  }

  valueOf(): number {
    if (this.#lastAt === 0) return this.maxMicrosteps;
    this.#microsteps++;
    const now = performance.now();
    this.#ranMs += Math.min(now - this.#lastAt, this.#gapMs);
    this.#lastAt = now;
    if (this.#ranMs > this.maxStepMs)
      throw new Error(
        `Step time budget exceeded: the step ran ${Math.round(this.#ranMs)} ms over ` +
          `${this.#microsteps} microsteps, past maxStepMs (${this.maxStepMs} ms)`,
      );
    return this.maxMicrosteps;
  }

  /** XState's own infinite-loop message prints the bound. */
  toString(): string {
    return String(this.maxMicrosteps);
  }
}

const GUARDS = new WeakMap<StepScope, TimerGuard>();

/**
 * Counts the pending timers a session's step would leave: those it had, plus the delayed events
 * the step schedules (an id already pending replaces its timer), minus those it cancels. It sees
 * each action through the actor scope's `actionExecutor`, wrapped once per actor.
 */
class TimerGuard {
  readonly #scope: StepScope;
  readonly #scheduler: IndexedScheduler;
  readonly #max: number;
  #active = 0;
  #pending = 0;
  #added: Set<string> | undefined;
  #cancelled: Set<string> | undefined;
  /** The error that refused the current step, once thrown. */
  refusal: TooManyTimersError | undefined;

  static of(scope: StepScope, max: number): TimerGuard | undefined {
    let guard = GUARDS.get(scope);
    if (guard) return guard;
    const scheduler = indexedSchedulerOf(scope.system);
    if (!scheduler) return undefined; // not a supervisor's session: nothing counts its timers
    guard = new TimerGuard(scope, scheduler, max);
    GUARDS.set(scope, guard);
    return guard;
  }

  private constructor(scope: StepScope, scheduler: IndexedScheduler, max: number) {
    this.#scope = scope;
    this.#scheduler = scheduler;
    this.#max = max;
    const execute = scope.actionExecutor;
    scope.actionExecutor = (action) => {
      if (this.#active !== 0) this.#see(action);
      execute(action);
    };
  }

  /** A step begins; returns how many effects were deferred before it. */
  begin(): number {
    if (this.#active++ === 0) {
      this.#pending = this.#scheduler.count(this.#scope.self);
      this.#added = undefined;
      this.#cancelled = undefined;
      this.refusal = undefined;
    }
    return deferredCount(this.#scope.self);
  }

  end(): void {
    this.#active--;
  }

  #see(action: ExecutableAction): void {
    const type = action.type;
    if (type === RAISE_ACTION || type === SEND_TO_ACTION) {
      const params = action.params as { delay?: unknown; id?: unknown } | undefined;
      if (typeof params?.delay !== 'number') return;
      const id = typeof params.id === 'string' ? params.id : undefined;
      if (id !== undefined) {
        if (this.#added?.has(id)) return;
        if (this.#has(id)) {
          // Its timer is replaced, unless this step cancelled it first: then it counts again.
          if (this.#cancelled?.delete(id) && ++this.#pending > this.#max) this.#refuse();
          return;
        }
        (this.#added ??= new Set()).add(id);
      }
      if (++this.#pending > this.#max) this.#refuse();
    } else if (type === CANCEL_ACTION) {
      const id = (action.params as { sendId?: unknown } | undefined)?.sendId;
      if (typeof id !== 'string') return;
      if (this.#added?.delete(id)) this.#pending--;
      else if (this.#has(id) && !this.#cancelled?.has(id)) {
        (this.#cancelled ??= new Set()).add(id);
        this.#pending--;
      }
    }
  }

  /** Whether `id` is among the timers the session had when the step began. */
  #has(id: string): boolean {
    return this.#scheduler.has(this.#scope.self, id);
  }

  #refuse(): never {
    const self: AnyActorRef = this.#scope.self;
    this.refusal = new TooManyTimersError(self.id, this.#max);
    throw this.refusal;
  }
}
