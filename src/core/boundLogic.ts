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
  const guard = new TimerGuard(limits.maxTimers);
  bounded.transition = (snapshot, event, scope) => {
    const outer = budget.begin();
    const step = guard.begin(scope);
    try {
      return transition(snapshot, event, scope);
    } catch (err) {
      if (step?.refusal === undefined || step.refusal !== err) throw err;
      // The step is refused: its effects are dropped and the session keeps its snapshot.
      dropDeferred(scope.self, step.keep);
      linkOf(scope.system)?.refused(scope.self, event, step.refusal);
      return snapshot;
    } finally {
      guard.end(step);
      budget.end(outer);
    }
  };
  bounded.getInitialSnapshot = (scope, input) => {
    // A start cannot be refused by keeping a previous snapshot: it fails (SESSION_INIT_FAILED).
    const outer = budget.begin();
    const step = guard.begin(scope);
    try {
      return initial(scope, input);
    } finally {
      guard.end(step);
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

  /**
   * A step begins: returns what {@link end} restores, `undefined` for the common step that runs
   * inside no other (nothing to keep, nothing allocated per step).
   */
  begin(): [number, number, number] | undefined {
    const outer: [number, number, number] | undefined =
      this.#lastAt === 0 ? undefined : [this.#lastAt, this.#ranMs, this.#microsteps];
    this.#lastAt = performance.now();
    this.#ranMs = 0;
    this.#microsteps = 0;
    return outer;
  }

  end(outer: [number, number, number] | undefined): void {
    if (outer === undefined) this.#lastAt = 0;
    else [this.#lastAt, this.#ranMs, this.#microsteps] = outer;
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

/** The timer count of one step of one session (steps nest when one session calls another). */
interface TimerStep {
  readonly scope: StepScope;
  readonly scheduler: IndexedScheduler;
  /** The scope's own `actionExecutor`, put back when the step ends. */
  readonly execute: (action: ExecutableAction) => void;
  /** Effects the actor had deferred before the step (a refused step drops those after). */
  readonly keep: number;
  readonly outer: TimerStep | undefined;
  /** Timers the session would have pending; -1 until the step's first delayed action or cancel. */
  pending: number;
  added: Set<string> | undefined;
  cancelled: Set<string> | undefined;
  refusal: TooManyTimersError | undefined;
}

/**
 * Counts the pending timers a session's step would leave: those it had, plus the delayed events
 * the step schedules (an id already pending replaces its timer), minus those it cancels. It sees
 * each action through the actor scope's `actionExecutor`, replaced for the step only: nothing is
 * kept per session between steps (memory per idle session is a target, bench/core).
 */
class TimerGuard {
  readonly #max: number;
  #step: TimerStep | undefined;
  readonly #see = (action: ExecutableAction): void => {
    const step = this.#step!;
    this.#count(step, action);
    step.execute(action);
  };

  constructor(max: number) {
    this.#max = max;
  }

  /** A step of the session of `scope` begins; `undefined` outside a supervisor (nothing counts). */
  begin(scope: StepScope): TimerStep | undefined {
    const scheduler = indexedSchedulerOf(scope.system);
    if (scheduler === undefined) return undefined;
    const step: TimerStep = {
      scope,
      scheduler,
      execute: scope.actionExecutor,
      keep: deferredCount(scope.self),
      outer: this.#step,
      pending: -1,
      added: undefined,
      cancelled: undefined,
      refusal: undefined,
    };
    this.#step = step;
    scope.actionExecutor = this.#see;
    return step;
  }

  end(step: TimerStep | undefined): void {
    if (step === undefined) return;
    step.scope.actionExecutor = step.execute;
    this.#step = step.outer;
  }

  #count(step: TimerStep, action: ExecutableAction): void {
    const type = action.type;
    if (type === RAISE_ACTION || type === SEND_TO_ACTION) {
      const params = action.params as { delay?: unknown; id?: unknown } | undefined;
      if (typeof params?.delay !== 'number') return;
      if (step.pending < 0) step.pending = step.scheduler.count(step.scope.self);
      const id = typeof params.id === 'string' ? params.id : undefined;
      if (id !== undefined) {
        if (step.added?.has(id)) return;
        if (step.scheduler.has(step.scope.self, id)) {
          // Its timer is replaced, unless this step cancelled it first: then it counts again.
          if (step.cancelled?.delete(id) && ++step.pending > this.#max) this.#refuse(step);
          return;
        }
        (step.added ??= new Set()).add(id);
      }
      if (++step.pending > this.#max) this.#refuse(step);
    } else if (type === CANCEL_ACTION) {
      const id = (action.params as { sendId?: unknown } | undefined)?.sendId;
      if (typeof id !== 'string') return;
      if (step.pending < 0) step.pending = step.scheduler.count(step.scope.self);
      if (step.added?.delete(id)) step.pending--;
      else if (step.scheduler.has(step.scope.self, id) && !step.cancelled?.has(id)) {
        (step.cancelled ??= new Set()).add(id);
        step.pending--;
      }
    }
  }

  #refuse(step: TimerStep): never {
    const self: AnyActorRef = step.scope.self;
    step.refusal = new TooManyTimersError(self.id, this.#max);
    throw step.refusal;
  }
}
