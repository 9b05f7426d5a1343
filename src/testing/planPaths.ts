import {
  type AnyMachineSnapshot,
  type AnyTransitionDefinition,
  type EventObject,
  getInitialMicrosteps,
} from 'xstate';
import { getAdjacencyMap, getShortestPaths, getSimplePaths, type StatePath } from 'xstate/graph';
import { formatEvents, formatValue, stableStringify } from './format.js';
import { createMacrostepRunner, type MacrostepRunner } from './macrosteps.js';
import { Reached } from './coverage.js';
import { eventsFor, type MachineGraph } from './machineGraph.js';
import type { ModelState, PathStrategy, SessionTestModelOptions } from './types.js';

/** One step of a planned path: the event, and the model's state before and after it. @internal */
export interface PlannedStep {
  event: EventObject;
  before: AnyMachineSnapshot;
  after: AnyMachineSnapshot;
  /** The transitions the model takes for the event itself (empty: refused, e.g. by a guard). */
  transitions: readonly AnyTransitionDefinition[];
  /**
   * Every transition of the macrostep: the event's, then those the machine takes on its own
   * (`always`, raised events, `onDone` of a compound or parallel state).
   */
  taken: AnyTransitionDefinition[];
  /** Snapshots passed through on the way to `after` (transient states). */
  passed: AnyMachineSnapshot[];
}

/** @internal */
export interface PlannedPath {
  title: string;
  events: EventObject[];
  initial: AnyMachineSnapshot;
  /** Transitions taken on the way to the initial state, and the snapshots passed. */
  initialTaken: AnyTransitionDefinition[];
  initialPassed: AnyMachineSnapshot[];
  steps: PlannedStep[];
}

/** What a strategy plans: the paths, and what they cover when every one passes. @internal */
export interface Plan {
  paths: PlannedPath[];
  /** State ids and transition keys the paths reach when every one of them passes. */
  states: Set<string>;
  transitions: Set<string>;
}

/**
 * The default state key: the state value and the context, as `xstate/graph`'s default
 * (`serializeSnapshot`) has it, with object keys sorted so that a state read back over HTTP in
 * another key order still matches. An empty context is left out, as `xstate/graph` does.
 * @internal
 */
export function defaultSerializeState(state: ModelState): string {
  const { value, context } = state;
  const empty =
    context === undefined ||
    context === null ||
    (typeof context === 'object' && Object.keys(context).length === 0);
  return stableStringify(empty ? { value } : { value, context });
}

function eventsOfGraphPath(path: StatePath<AnyMachineSnapshot, EventObject>): EventObject[] {
  // xstate/graph paths start with a step for `xstate.init`; each later step holds the event
  // that led to its state.
  return path.steps.slice(1).map((step) => step.event);
}

/**
 * Replays event sequences through the model's pure transitions, sharing the steps of common
 * prefixes (a 'transitions' plan is a shortest-path tree plus one edge per path, so nearly every
 * step is shared). The traversal keeps one snapshot per serialized state, so a path's events may
 * lead to a snapshot with another context than the one the traversal stored (with a coarse
 * `serializeState`); replaying gives the exact expected state of every step.
 */
class Replayer {
  readonly #runner: MacrostepRunner;
  readonly #initial: AnyMachineSnapshot;
  readonly #initialTaken: AnyTransitionDefinition[];
  readonly #initialPassed: AnyMachineSnapshot[];
  /** Steps by the events that lead to them, as a trie. */
  readonly #root: TrieNode = newNode();

  constructor(graph: MachineGraph, input: unknown) {
    this.#runner = createMacrostepRunner(graph.machine);
    const initial = this.#runner.initial(input);
    this.#initial = initial.snapshot;
    this.#initialTaken = initial.microsteps.flatMap((m) => m.transitions);
    // The states entered by the initial microstep itself and left at once (by `always`, say).
    this.#initialPassed = [
      ...getInitialMicrosteps(graph.machine, input).map(([snapshot]) => snapshot),
      ...initial.microsteps.map((m) => m.snapshot),
    ];
  }

  replay(events: EventObject[]): PlannedPath {
    let current = this.#initial;
    let node = this.#root;
    const steps: PlannedStep[] = [];
    for (const event of events) {
      node = childOf(node, event);
      let step = node.step;
      if (!step) {
        const { snapshot, microsteps } = this.#runner.next(current, event);
        step = {
          event,
          before: current,
          after: snapshot,
          transitions: microsteps[0]?.transitions ?? [],
          taken: microsteps.flatMap((m) => m.transitions),
          passed: microsteps.map((m) => m.snapshot),
        };
        node.step = step;
      }
      steps.push(step);
      current = step.after;
    }
    const title = `${formatEvents(events)} ⇒ ${formatValue(current.value)}${current.status === 'done' ? ' (final)' : ''}`;
    return {
      title,
      events,
      initial: this.#initial,
      initialTaken: this.#initialTaken,
      initialPassed: this.#initialPassed,
      steps,
    };
  }
}

/** A trie of event sequences: shared prefixes are stored (and replayed) once. */
interface TrieNode {
  readonly children: Map<string, TrieNode>;
  /** A sequence ends here. */
  end: boolean;
  /** The step of the event that leads here (replay). */
  step?: PlannedStep;
}

const newNode = (): TrieNode => ({ children: new Map(), end: false });
const eventKeys = new WeakMap<EventObject, string>();

function childOf(node: TrieNode, event: EventObject): TrieNode {
  let key = eventKeys.get(event);
  if (key === undefined) {
    key = stableStringify(event);
    eventKeys.set(event, key);
  }
  let child = node.children.get(key);
  if (!child) {
    child = newNode();
    node.children.set(key, child);
  }
  return child;
}

/**
 * The sequences without duplicates and, with `dropPrefixes`, without those that are a strict
 * prefix of another (checked by that one, since every step is checked). Linear in the total
 * length, through a trie: long paths (a counter taken to 60) stay cheap.
 */
function distinct(sequences: EventObject[][], dropPrefixes: boolean): EventObject[][] {
  const root = newNode();
  const ends = sequences.map((seq) => {
    let node = root;
    for (const event of seq) node = childOf(node, event);
    return node;
  });
  for (const end of ends) end.end = true;
  const kept: EventObject[][] = [];
  sequences.forEach((seq, i) => {
    const end = ends[i] as TrieNode;
    if (!end.end || (dropPrefixes && end.children.size > 0)) return;
    end.end = false; // the first of equal sequences is kept
    kept.push(seq);
  });
  return kept;
}

/** Generates the paths of a strategy with `xstate/graph`'s traversal. @internal */
export function planPaths(
  graph: MachineGraph,
  options: SessionTestModelOptions,
  strategy: PathStrategy,
): Plan {
  const machine = graph.machine;
  const serialize = options.serializeState ?? defaultSerializeState;
  const userEvents = options.events;
  const traversal = {
    input: options.input,
    limit: options.limit ?? 100_000,
    events: (snapshot: AnyMachineSnapshot) =>
      eventsFor(
        graph,
        snapshot,
        typeof userEvents === 'function' ? userEvents(snapshot) : userEvents,
      ),
    serializeState: (snapshot: AnyMachineSnapshot) =>
      serialize({ value: snapshot.value, context: snapshot.context }),
  } as never;

  let sequences: EventObject[][];
  try {
    sequences = sequencesOf(graph, strategy, traversal, serialize);
  } catch (error) {
    if (error instanceof Error && error.message === 'Traversal limit exceeded') {
      throw new Error(
        `${options.name ?? machine.id}: more than ${options.limit ?? 100_000} traversal steps; ` +
          'make serializeState coarser (a context value that keeps growing makes the graph infinite) or raise `limit`',
        { cause: error },
      );
    }
    throw error;
  }

  const unique = distinct(sequences, strategy === 'transitions');
  unique.sort((a, b) => a.length - b.length);
  const replayer = new Replayer(graph, options.input);
  const paths = unique.map((events) => replayer.replay(events));
  const reached = new Reached(graph);
  for (const path of paths) {
    reached.add(path.initial, [path.initial, ...path.initialPassed], path.initialTaken);
    for (const step of path.steps) reached.add(step, [step.after, ...step.passed], step.taken);
  }
  return { paths, states: reached.states, transitions: reached.transitions };
}

function sequencesOf(
  graph: MachineGraph,
  strategy: PathStrategy,
  traversal: never,
  serialize: (state: ModelState) => string,
): EventObject[][] {
  const machine = graph.machine;
  if (strategy === 'shortest') return getShortestPaths(machine, traversal).map(eventsOfGraphPath);
  if (strategy === 'simple')
    return [[], ...getSimplePaths(machine, traversal).map(eventsOfGraphPath)];
  // A path per transition: the shortest path to its source state, then that transition. One
  // traversal (`getAdjacencyMap`), then a breadth-first walk over it for the shortest prefixes.
  const adjacency = getAdjacencyMap(machine, traversal) as unknown as Record<
    string,
    { transitions: Record<string, { event: EventObject; state: AnyMachineSnapshot }> }
  >;
  const keyOf = (snapshot: AnyMachineSnapshot) =>
    serialize({ value: snapshot.value, context: snapshot.context });
  const [initialKey] = Object.keys(adjacency);
  if (initialKey === undefined) return [[]];
  const shortest = new Map<string, EventObject[]>([[initialKey, []]]);
  const queue = [initialKey];
  const sequences: EventObject[][] = [[]];
  for (let at = 0; at < queue.length; at++) {
    const key = queue[at] as string;
    const prefix = shortest.get(key) as EventObject[];
    for (const { event, state } of Object.values(adjacency[key]?.transitions ?? {})) {
      const path = [...prefix, event];
      sequences.push(path);
      const next = keyOf(state);
      if (!shortest.has(next) && adjacency[next]) {
        shortest.set(next, path);
        queue.push(next);
      }
    }
  }
  return sequences;
}
