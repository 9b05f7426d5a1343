import type { AnyMachineSnapshot, AnyStateMachine, AnyStateNode, EventObject } from 'xstate';
import { stableStringify } from '../format.js';
import {
  activeStateNodes,
  analyzeMachine,
  eventsFor,
  type MachineGraph,
  resolveDelayMs,
} from '../machineGraph.js';
import { createMacrostepRunner } from '../macrosteps.js';
import { defaultSerializeState } from '../planPaths.js';
import type { ModelEvent, ModelState } from '../types.js';

/** A pending delayed event of a configuration. @internal */
export interface ReachedTimer {
  /** The event type of the `after` transition (`xstate.after.<delay>.<stateId>`). */
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

/** What {@link reachableConfigurations} found, and whether it stopped at its limit. @internal */
export interface Reach {
  readonly configurations: ReachedConfiguration[];
  readonly steps: number;
  /** Set when the traversal passed `limit` steps: the list is then incomplete. */
  readonly stopped: boolean;
}

interface Node {
  config: ReachedConfiguration;
  parent: number;
  via: EventObject | undefined;
}

/**
 * @internal
 * The seam between `verifyMigrations` and the model-based traversal: every configuration of a
 * machine (state value, context, history memory, pending `after` timers with the earliest due
 * first, running children) reachable with the given events, breadth first, each with a shortest
 * event path. Delayed events fire only when they are the earliest due (ties in the order XState
 * armed them); the done and error events of an invocation are tried only while it runs.
 */
export function reachableConfigurations(
  machine: AnyStateMachine,
  options: ReachOptions,
  graph: MachineGraph = analyzeMachine(machine),
): Reach {
  const runner = createMacrostepRunner(machine);
  const serialize = options.serializeState ?? defaultSerializeState;
  const limit = options.limit ?? 100_000;
  const start = runner.initial(options.input);
  const nodes: Node[] = [];
  const byKey = new Map<string, number>();
  const add = (config: ReachedConfiguration, parent: number, via: EventObject | undefined) => {
    const key = keyOf(config, serialize);
    if (byKey.has(key)) return;
    byKey.set(key, nodes.length);
    nodes.push({ config, parent, via });
  };
  add(configure(graph, start.snapshot, undefined, [], [], { type: 'xstate.init' }), -1, undefined);

  let steps = 0;
  let stopped = false;
  for (let at = 0; at < nodes.length && !stopped; at++) {
    const { config } = nodes[at]!;
    const userEvents =
      typeof options.events === 'function' ? options.events(config.snapshot) : options.events;
    const earliest = config.timers[0];
    for (const event of eventsFor(graph, config.snapshot, userEvents)) {
      if (graph.delayedEvents.has(event.type)) {
        if (!earliest || earliest.id !== event.type) continue;
      } else if (!runningChildAllows(config, event.type)) continue;
      if (++steps > limit) {
        stopped = true;
        break;
      }
      const next = runner.next(config.snapshot, event);
      if (next.snapshot.status === 'error') continue;
      const elapsed = graph.delayedEvents.has(event.type) ? earliest!.dueInMs : 0;
      const timers = config.timers
        .filter((t) => t.id !== event.type)
        .map((t) => ({ ...t, dueInMs: t.dueInMs - elapsed }));
      const reached = configure(
        graph,
        next.snapshot,
        config.snapshot,
        timers,
        next.microsteps.flatMap((m) => m.transitions),
        event,
      );
      const path = [...config.events, event];
      add({ ...reached, events: path }, at, event);
    }
  }
  return { configurations: nodes.map((n) => n.config), steps, stopped };
}

const DONE = 'xstate.done.actor.';
const ERROR = 'xstate.error.actor.';

function runningChildAllows(config: ReachedConfiguration, type: string): boolean {
  const id = type.startsWith(DONE)
    ? type.slice(DONE.length)
    : type.startsWith(ERROR)
      ? type.slice(ERROR.length)
      : undefined;
  return id === undefined || config.children.some((c) => c.id === id);
}

/**
 * The configuration after a macrostep: timers of states left are cancelled, states entered (or
 * re-entered by a transition that targets them) arm theirs.
 */
function configure(
  graph: MachineGraph,
  snapshot: AnyMachineSnapshot,
  before: AnyMachineSnapshot | undefined,
  timers: ReachedTimer[],
  taken: ReadonlyArray<{
    target?: readonly AnyStateNode[] | undefined;
    reenter?: boolean;
    source: AnyStateNode;
  }>,
  event: EventObject,
): ReachedConfiguration {
  const active =
    snapshot.status === 'active' ? activeStateNodes(graph.machine, snapshot.value) : [];
  const activeIds = new Set(active.map((n) => n.id));
  const previous = new Set(
    before ? activeStateNodes(graph.machine, before.value).map((n) => n.id) : [],
  );
  // States entered anew: not active before, or under the target of a transition that re-enters.
  const entered = new Set<string>();
  for (const n of active) if (!previous.has(n.id)) entered.add(n.id);
  for (const t of taken)
    for (const target of t.target ?? [])
      if (t.reenter || !isAncestor(target, t.source))
        for (const n of active) if (isAncestor(target, n)) entered.add(n.id);
  const kept = timers.filter((t) => {
    const stateId = graph.delayedEvents.get(t.id)?.stateId;
    return stateId !== undefined && activeIds.has(stateId) && !entered.has(stateId);
  });
  for (const n of active) {
    if (!entered.has(n.id)) continue;
    for (const delayed of n.after as Array<{ eventType: string }>) {
      const ms = resolveDelayMs(graph, delayed.eventType, snapshot, event);
      if (ms === undefined) continue;
      kept.push({ id: delayed.eventType, event: { type: delayed.eventType }, dueInMs: ms });
    }
  }
  // The next to fire first; ties keep the order they were armed in (a stable sort).
  kept.sort((a, b) => a.dueInMs - b.dueInMs);
  const children = Object.entries(snapshot.children ?? {}).map(([id, ref]) => ({
    id,
    src: String((ref as { src?: unknown }).src),
  }));
  const history: Record<string, string[]> = {};
  for (const [id, nodes] of Object.entries(snapshot.historyValue ?? {}))
    history[id] = (nodes as Array<{ id: string }>).map((n) => n.id);
  return { snapshot, timers: kept, children, history, events: [] };
}

/** Whether `node` is `ancestor` or below it. */
function isAncestor(ancestor: AnyStateNode, node: AnyStateNode): boolean {
  for (let n: AnyStateNode | undefined = node; n; n = n.parent) if (n === ancestor) return true;
  return false;
}

function keyOf(config: ReachedConfiguration, serialize: (state: ModelState) => string): string {
  return `${serialize({ value: config.snapshot.value, context: config.snapshot.context })}|${stableStringify(
    {
      h: config.history,
      t: config.timers.map((t) => [t.id, t.dueInMs]),
      c: config.children.map((c) => c.id),
      s: config.snapshot.status,
    },
  )}`;
}
