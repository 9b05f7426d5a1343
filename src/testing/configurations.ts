import type { AnyActorRef, AnyMachineSnapshot, EventObject } from 'xstate';
import { formatEvent, formatValue, stableStringify } from './format.js';
import { activeStateNodes, descriptorMatches, type MachineGraph } from './machineGraph.js';
import {
  createMacrostepRunner,
  type InvocationKind,
  invocationKindOf,
  type Macrostep,
  type MacrostepRunner,
  withStartedChildren,
} from './macrosteps.js';
import { stepSeed, withSeed } from './random.js';
import type { ModelEvent, ModelState } from './types.js';

/** A delayed event armed and not yet fired, as the model tracks it. */
export interface PendingTimer {
  /** The scheduler id (`cancel(id)` refers to it; the event type for an `after` transition). */
  readonly id: string | undefined;
  readonly event: EventObject;
  /** Milliseconds from now until it fires. */
  readonly dueInMs: number;
  /** The event goes to the machine itself (`after`, a delayed `raise`, `sendTo` self). */
  readonly toSelf: boolean;
}

/** A child of the machine (invoked or spawned), as the model tracks it. */
export interface ChildState {
  readonly id: string;
  /** The source name (`setup({ actors })` key, or `xstate.invoke.<i>.<state id>` inline). */
  readonly src: string;
  /**
   * How the runner controls it (`promise`, `callback`, `observable`; machines and other logic
   * as promises), or `uncontrolled` for a child it does not stand in for (spawned in an action
   * from a source not invoked, or from logic given inline to `spawnChild`): that one runs for
   * real.
   */
  readonly kind: InvocationKind | 'uncontrolled';
  /** `done` or `error` once the path settled it; `active` while it runs. */
  readonly status: 'active' | 'done' | 'error';
  /** The model's actor reference (a new one each time the child is started again). */
  readonly ref: AnyActorRef;
}

/**
 * One configuration of a machine as the model explores it: the snapshot (state value, context,
 * history memory) plus what the snapshot alone does not hold: the delayed events pending and
 * the children running.
 */
export interface Configuration {
  /**
   * Identity for the traversal: `serializeState` of the value and context, then the history
   * memory, the pending delays and the children (always exact: they are finite).
   */
  readonly key: string;
  /** The same with the exact value and context (what seeds a step and tells determinism). */
  readonly exactKey: string;
  readonly snapshot: AnyMachineSnapshot;
  /** Pending delayed events, the next to fire first (ties in the order they were armed). */
  readonly timers: readonly PendingTimer[];
  readonly children: readonly ChildState[];
  /** History memory: for each history state id, the ids of the states it would restore. */
  readonly history: Readonly<Record<string, readonly string[]>>;
}

/** How a step reaches the session: sent by a user, fired by the clock, or by an invocation. */
export type StepKind = 'event' | 'timer' | 'done' | 'error' | 'emit' | 'snapshot';

/** One step of a path: what happens, and the event the machine receives for it. */
export interface ModelStep {
  readonly kind: StepKind;
  readonly event: EventObject;
  /** The child that settles or emits (`done`, `error`, `emit`, `snapshot`). */
  readonly child?: string;
  /** The value an observable emits (`snapshot`). */
  readonly value?: unknown;
  /** The timer that fires (`timer`). */
  readonly timer?: PendingTimer;
}

/** A step of the model from one configuration: where it leads and what the machine did. */
export interface ModelTransition {
  readonly step: ModelStep;
  readonly to: Configuration;
  readonly macrostep: Macrostep;
  /** The seed `Math.random` was drawn from during the step (when the model has one). */
  readonly seed: number | undefined;
}

/** What the configuration model needs from the test model's options. @internal */
export interface ConfigurationOptions {
  events: readonly ModelEvent[] | ((snapshot: AnyMachineSnapshot) => readonly ModelEvent[]);
  serializeState?: (state: ModelState) => string;
  /** What each invoked actor may emit while it runs (callbacks: events; observables: values). */
  emitted?: Readonly<Record<string, readonly unknown[]>>;
  input?: unknown;
  seed?: number;
  name?: string;
}

const DONE = 'xstate.done.actor.';
const ERROR = 'xstate.error.actor.';
const SNAPSHOT = 'xstate.snapshot.';

/** Thrown when a step of the model gives two different results. @internal */
export class NondeterministicModelError extends Error {
  override name = 'NondeterministicModelError' as const;
}

/**
 * The pure model of a session machine's configurations: XState's own transitions (through
 * {@link createMacrostepRunner}, actions resolved, never executed), plus the delayed events and
 * children those transitions arm, start, cancel and stop. Every step is computed twice: a step
 * that gives two results (randomness without a `seed`, the time of day) is reported as a
 * nondeterministic model rather than explored.
 * @internal
 */
export class ConfigurationModel {
  readonly #runner: MacrostepRunner;
  readonly #check: MacrostepRunner;
  readonly #serialize: ((state: ModelState) => string) | undefined;

  constructor(
    readonly graph: MachineGraph,
    readonly options: ConfigurationOptions,
  ) {
    this.#runner = createMacrostepRunner(graph.machine);
    this.#check = createMacrostepRunner(graph.machine);
    this.#serialize = options.serializeState;
  }

  get name(): string {
    return this.options.name ?? this.graph.machine.id;
  }

  /** The initial configuration. */
  initial(): { to: Configuration; macrostep: Macrostep; seed: number | undefined } {
    const seed = this.options.seed === undefined ? undefined : stepSeed(this.options.seed, 'init');
    const compute = (runner: MacrostepRunner) =>
      withSeed(seed, () => withStartedChildren(runner, runner.initial(this.options.input)));
    const macrostep = compute(this.#runner);
    const to = this.#configure(macrostep, [], [], undefined);
    const again = this.#configure(compute(this.#check), [], [], undefined);
    if (again.exactKey !== to.exactKey)
      throw this.#nondeterministic('the initial state', to.exactKey, again.exactKey);
    return { to, macrostep, seed };
  }

  /** The steps possible in `config`, in a stable order. */
  stepsFrom(config: Configuration): ModelStep[] {
    const { snapshot } = config;
    if (snapshot.status !== 'active') return [];
    const listed =
      typeof this.options.events === 'function'
        ? this.options.events(snapshot)
        : this.options.events;
    const handled = new Set<string>();
    for (const node of activeStateNodes(this.graph.machine, snapshot.value))
      for (const descriptor of node.ownEvents) handled.add(descriptor);
    const isHandled = (type: string) => {
      for (const d of handled) if (descriptorMatches(d, type)) return true;
      return false;
    };
    const steps: ModelStep[] = [];
    const byChild = new Map(config.children.map((c) => [c.id, c]));
    for (const event of listed) {
      const child = childOf(event.type);
      if (child !== undefined) {
        const running = byChild.get(child.id);
        if (running?.status !== 'active' || running.kind === 'uncontrolled') continue;
        if (child.kind === 'done' && running.kind === 'callback') continue;
        if (!isHandled(event.type)) continue;
        const value =
          child.kind === 'snapshot'
            ? (event as { snapshot?: { context?: unknown } }).snapshot?.context
            : undefined;
        steps.push({ kind: child.kind, event, child: child.id, value });
        continue;
      }
      if (isHandled(event.type)) steps.push({ kind: 'event', event });
    }
    for (const child of config.children) {
      if (child.status !== 'active' || child.kind === 'uncontrolled') continue;
      for (const emitted of this.options.emitted?.[child.id] ?? []) {
        if (child.kind === 'observable') {
          const type = `${SNAPSHOT}${child.id}`;
          if (!isHandled(type)) continue;
          const event = {
            type,
            snapshot: {
              status: 'active',
              output: undefined,
              error: undefined,
              context: emitted,
              input: (child.ref.getSnapshot() as { input?: unknown }).input,
            },
          };
          steps.push({ kind: 'snapshot', event, child: child.id, value: emitted });
        } else if (
          child.kind === 'callback' &&
          isEvent(emitted) &&
          isHandled((emitted as EventObject).type)
        ) {
          steps.push({ kind: 'emit', event: emitted as EventObject, child: child.id });
        }
      }
    }
    // Only the clock's next event: a delayed event fires only when it is the earliest due.
    const next = config.timers.find((t) => t.toSelf);
    if (next) steps.push({ kind: 'timer', event: next.event, timer: next });
    return steps;
  }

  /** The seed of `step` from `config` (when the model has one). */
  seedOf(config: Configuration, step: ModelStep): number | undefined {
    if (this.options.seed === undefined) return undefined;
    return stepSeed(
      this.options.seed,
      `${config.exactKey}\u0000${step.kind}\u0000${stableStringify(step.event)}`,
    );
  }

  /** The configuration after `step`. */
  /**
   * The configuration after `step`; with `check`, computed a second time and compared (a
   * caller that computes the step again later may compare itself, with {@link assertSame}).
   */
  next(config: Configuration, step: ModelStep, check = true): ModelTransition {
    const seed = this.seedOf(config, step);
    const compute = (runner: MacrostepRunner) =>
      withSeed(seed, () => withStartedChildren(runner, runner.next(config.snapshot, step.event)));
    const macrostep = compute(this.#runner);
    const timers = this.#timersBefore(config, step);
    const to = this.#configure(macrostep, timers, config.children, step);
    if (check) {
      const again = this.#configure(compute(this.#check), timers, config.children, step);
      this.assertSame(config, step, to, again);
    }
    return { step, to, macrostep, seed };
  }

  /** Throws {@link NondeterministicModelError} when two computations of a step differ. */
  assertSame(
    config: Configuration,
    step: ModelStep,
    first: Configuration,
    second: Configuration,
  ): void {
    if (first.exactKey === second.exactKey) return;
    throw this.#nondeterministic(
      `${formatEvent(step.event)} from ${formatValue(config.snapshot.value)}`,
      first.exactKey,
      second.exactKey,
    );
  }

  /** The timers once the clock reached `step` (a fired timer gone, the others nearer). */
  #timersBefore(config: Configuration, step: ModelStep): Array<PendingTimer & { seq: number }> {
    const elapsed = step.kind === 'timer' ? (step.timer?.dueInMs ?? 0) : 0;
    const out: Array<PendingTimer & { seq: number }> = [];
    // The fired timer, found by what it is (the step may come from another configuration of
    // the same key, whose timer objects are others).
    const fired = step.timer;
    const firedAt = fired
      ? config.timers.findIndex(
          (t) =>
            t === fired ||
            (t.toSelf &&
              t.id === fired.id &&
              t.dueInMs === fired.dueInMs &&
              t.event.type === fired.event.type),
        )
      : -1;
    config.timers.forEach((t, seq) => {
      if (seq === firedAt) return;
      // A delayed event to another actor fires on its own as time passes.
      if (!t.toSelf && t.dueInMs <= elapsed) return;
      out.push({ ...t, dueInMs: t.dueInMs - elapsed, seq });
    });
    return out;
  }

  #configure(
    macrostep: Macrostep,
    before: Array<PendingTimer & { seq: number }>,
    previousChildren: readonly ChildState[],
    step: ModelStep | undefined,
  ): Configuration {
    const { snapshot } = macrostep;
    let timers = [...before];
    let seq = before.length;
    for (const action of macrostep.actions) {
      if (action.kind === 'delay') {
        // The supervisor's scheduler replaces a pending event of the same id.
        if (action.id !== undefined) timers = timers.filter((t) => t.id !== action.id);
        timers.push({
          id: action.id,
          event: action.event,
          dueInMs: action.delayMs,
          toSelf: action.toSelf,
          seq: seq++,
        });
      } else if (action.kind === 'cancel') {
        timers = timers.filter((t) => t.id !== action.id);
      }
    }
    // A machine that is done or failed has stopped: its delayed events are cancelled.
    if (snapshot.status !== 'active') timers = [];
    timers.sort((a, b) => a.dueInMs - b.dueInMs || a.seq - b.seq);
    const pending: PendingTimer[] = timers.map(({ seq: _, ...t }) => t);

    const previous = new Map(previousChildren.map((c) => [c.id, c]));
    const children: ChildState[] = [];
    for (const [id, ref] of Object.entries(snapshot.children ?? {})) {
      if (!ref) continue;
      const actor = ref as AnyActorRef & { src?: unknown; logic?: unknown };
      const before = previous.get(id);
      let status: ChildState['status'] = 'active';
      if (before && before.ref === actor) {
        status = before.status;
        if (step?.child === id && step.kind === 'done') status = 'done';
        if (step?.child === id && step.kind === 'error') status = 'error';
      }
      const kind = this.isControlled(actor.src)
        ? invocationKindOf(actor.logic as never)
        : 'uncontrolled';
      children.push({
        id,
        src: typeof actor.src === 'string' ? actor.src : '(inline)',
        kind,
        status,
        ref: actor,
      });
    }
    children.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));

    const history: Record<string, string[]> = {};
    for (const [id, nodes] of Object.entries(snapshot.historyValue ?? {})) {
      history[id] = (nodes as Array<{ id: string }>).map((n) => n.id).sort();
    }
    const parts: string[] = [];
    if (Object.keys(history).length) parts.push(`history ${stableStringify(history)}`);
    if (pending.length)
      parts.push(
        `delays [${pending.map((t) => `${t.toSelf ? '' : '→'}${formatEvent(t.event)} in ${t.dueInMs} ms`).join(', ')}]`,
      );
    if (children.length)
      parts.push(`children [${children.map((c) => `${c.id}:${c.kind}:${c.status}`).join(', ')}]`);
    if (snapshot.status !== 'active') parts.push(snapshot.status);
    const rest = parts.length ? ` ${parts.join(' ')}` : '';
    const exact = stableStringify({ value: snapshot.value, context: snapshot.context });
    const user = this.#serialize
      ? this.#serialize({ value: snapshot.value, context: snapshot.context })
      : exact;
    return {
      key: user + rest,
      exactKey: exact + rest,
      snapshot,
      timers: pending,
      children,
      history,
    };
  }

  /** The runner stands in for invoked actors (named or inline); other children run for real. */
  isControlled(src: unknown): boolean {
    return (
      typeof src === 'string' &&
      (src.startsWith('xstate.invoke.') || this.graph.invokedSources.includes(src))
    );
  }

  #nondeterministic(where: string, first: string, second: string): NondeterministicModelError {
    return new NondeterministicModelError(
      `${this.name}: the model is nondeterministic: ${where} gave two different states on the same path\n` +
        `  first:  ${first}\n  second: ${second}\n` +
        'Something outside the events decides what the machine does (Math.random, Date.now, a ' +
        'module variable). This is a property of the model, not a failure of the implementation. ' +
        'Give the model a `seed` (Math.random then draws from it, the same numbers for the model ' +
        'and the session under test), or keep the outside state out of the machine.',
    );
  }
}

function childOf(type: string): { id: string; kind: 'done' | 'error' | 'snapshot' } | undefined {
  if (type.startsWith(DONE)) return { id: type.slice(DONE.length), kind: 'done' };
  if (type.startsWith(ERROR)) return { id: type.slice(ERROR.length), kind: 'error' };
  if (type.startsWith(SNAPSHOT)) return { id: type.slice(SNAPSHOT.length), kind: 'snapshot' };
  return undefined;
}

function isEvent(value: unknown): value is EventObject {
  return (
    typeof value === 'object' && value !== null && typeof (value as EventObject).type === 'string'
  );
}
