import type { AnyMachineSnapshot, AnyStateMachine, EventObject } from 'xstate';
import { messageOf } from '../../index.js';
import { exploreConfigurations } from '../exploreConfigurations.js';
import type { ModelEvent, ModelState } from '../types.js';

/** A pending delayed event of a configuration, to the machine itself. @internal */
export interface ReachedTimer {
  /** The scheduler id: the event type of an `after` transition (`xstate.after.<delay>.<stateId>`). */
  readonly id: string;
  readonly event: EventObject;
  /** Milliseconds until it fires, from the moment the configuration was reached. */
  readonly dueInMs: number;
}

/** One configuration reached, with a shortest event path to it. @internal */
export interface ReachedConfiguration {
  readonly snapshot: AnyMachineSnapshot;
  readonly timers: readonly ReachedTimer[];
  /** Running children: actor id and `src`. */
  readonly children: ReadonlyArray<{ readonly id: string; readonly src: string }>;
  /** History memory: history state id → ids of the states it would restore. */
  readonly history: Readonly<Record<string, readonly string[]>>;
  readonly events: readonly EventObject[];
}

/** Options of {@link reachableConfigurations}, the model-based tests' own. @internal */
export interface ReachOptions {
  events: readonly ModelEvent[] | ((snapshot: AnyMachineSnapshot) => readonly ModelEvent[]);
  serializeState?: ((state: ModelState) => string) | undefined;
  input?: unknown;
  /** Most traversal steps. @default 100_000 */
  limit?: number | undefined;
}

/** What {@link reachableConfigurations} found, or why it stopped. @internal */
export interface Reach {
  readonly configurations: ReachedConfiguration[];
  readonly steps: number;
  /** Set when the traversal did not finish (its limit, a context that grows, ...): the reason. */
  readonly stopped: string | undefined;
}

/**
 * @internal
 * The seam between `verifyMigrations` and the model-based traversal (`exploreConfigurations`,
 * the test model's own): every configuration of a machine reachable with the given events (state
 * value, context, history memory, pending delayed events to itself with the earliest due first,
 * running children), each with a shortest event path. A traversal that cannot finish (its step
 * limit, a context field that grows without bound, a nondeterministic model, a key that hides
 * what a guard reads) answers no configurations and says why.
 */
export function reachableConfigurations(machine: AnyStateMachine, options: ReachOptions): Reach {
  try {
    const explored = exploreConfigurations(machine, {
      events: options.events,
      ...(options.serializeState ? { serializeState: options.serializeState } : {}),
      input: options.input,
      ...(options.limit === undefined ? {} : { limit: options.limit }),
    });
    return {
      configurations: explored.configurations.map((c) => ({
        snapshot: c.snapshot,
        timers: c.timers
          .filter((t) => t.toSelf && t.id !== undefined)
          .map((t) => ({ id: t.id!, event: t.event, dueInMs: t.dueInMs })),
        children: c.children
          .filter((child) => child.status === 'active')
          .map((child) => ({ id: child.id, src: child.src })),
        history: c.history,
        events: c.events,
      })),
      steps: explored.traversalSteps,
      stopped: undefined,
    };
  } catch (err) {
    return {
      configurations: [],
      steps: 0,
      stopped: messageOf(err),
    };
  }
}
