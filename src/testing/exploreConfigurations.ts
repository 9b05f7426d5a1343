import type { AnyStateMachine, EventObject } from 'xstate';
import {
  type Configuration,
  ConfigurationModel,
  type ConfigurationOptions,
  type ModelStep,
  type ModelTransition,
} from './configurations.js';
import { formatEvent, stableStringify } from './format.js';
import { analyzeMachine, type MachineGraph } from './machineGraph.js';
import type { Macrostep } from './macrosteps.js';

/** Options of {@link exploreConfigurations}: the test model's, so both explore alike. */
export interface ExploreOptions extends ConfigurationOptions {
  /** Most traversal steps (a configuration and a step tried there). @default 100_000 */
  limit?: number;
  /**
   * Most distinct values one top-level context field may take across the configurations
   * explored before the traversal stops, naming the field as one that grows without bound.
   * @default 1_000
   */
  maxDistinctValues?: number;
  /**
   * Computes every step twice and reports a model whose two results differ as nondeterministic.
   * The test model turns it off: it computes each step again when it replays the paths, and
   * compares then.
   * @default true
   */
  checkDeterminism?: boolean;
}

/** A configuration reached, with the way to it and the steps tried there. */
export interface ExploredConfiguration extends Configuration {
  /** Its index in {@link Exploration.configurations} (0: the initial configuration). */
  readonly index: number;
  /** The steps of a shortest path from the initial configuration to it. */
  readonly steps: readonly ModelStep[];
  /** The events of those steps, in order (`steps.map((s) => s.event)`). */
  readonly events: readonly EventObject[];
  /** Every step tried here, and the index of the configuration it leads to. */
  readonly edges: readonly ExploredEdge[];
}

/** One step tried from a configuration. */
export interface ExploredEdge {
  readonly step: ModelStep;
  /** Index of the configuration (by key) it leads to. */
  readonly to: number;
  /** The exact result (its context may differ from `to`'s when the key is coarser). */
  readonly transition: ModelTransition;
}

/** What {@link exploreConfigurations} returns. */
export interface Exploration {
  readonly graph: MachineGraph;
  readonly model: ConfigurationModel;
  /** Every distinct configuration (by key), breadth first: `[0]` is the initial one. */
  readonly configurations: readonly ExploredConfiguration[];
  /** The macrostep of the start (the initial state and what it went through). */
  readonly initial: { readonly macrostep: Macrostep; readonly seed: number | undefined };
  /** Traversal steps taken. */
  readonly traversalSteps: number;
}

interface Node {
  config: Configuration;
  parent: number;
  via: ModelStep | undefined;
  edges: ExploredEdge[];
}

/**
 * Every configuration of a machine reachable with the given events, with a shortest event path
 * to each, under the same rules as `createSessionTestModel`'s traversal (it is that traversal):
 * a configuration is the state value, context, history memory, pending delayed events and
 * running children; delayed events fire only when the earliest due; invocations settle and emit
 * only while they run; `serializeState` coarsens the value and context part of the identity.
 *
 * Throws (with a message saying why and what to change) when the traversal passes `limit`
 * steps, when a context field takes more than `maxDistinctValues` values (it grows without
 * bound: the message names it), when the model is nondeterministic, and when `serializeState`
 * gives one key to two configurations whose guards decide differently.
 *
 * @internal Shared by the model-based tests and `verifyMigrations`; not part of the public API.
 * @example
 * ```ts
 * const { configurations } = exploreConfigurations(cartMachine, { events });
 * for (const c of configurations) c.snapshot.value, c.history, c.timers, c.children, c.events;
 * ```
 */
export function exploreConfigurations(
  machine: AnyStateMachine,
  options: ExploreOptions,
  graph: MachineGraph = analyzeMachine(machine),
): Exploration {
  const model = new ConfigurationModel(graph, options);
  const limit = options.limit ?? 100_000;
  const maxDistinct = options.maxDistinctValues ?? 1_000;
  const start = model.initial();
  const nodes: Node[] = [];
  const byKey = new Map<string, number>();
  const growth = new GrowthWatch(model.name, maxDistinct);
  const merged: Array<{ rep: number; config: Configuration }> = [];
  const mergedSeen = new Set<string>();

  const add = (config: Configuration, parent: number, via: ModelStep | undefined): number => {
    const index = nodes.length;
    nodes.push({ config, parent, via, edges: [] });
    byKey.set(config.key, index);
    growth.add(config, index + 1);
    return index;
  };
  add(start.to, -1, undefined);

  let steps = 0;
  for (let at = 0; at < nodes.length; at++) {
    const node = nodes[at] as Node;
    for (const step of model.stepsFrom(node.config)) {
      if (++steps > limit) {
        throw new Error(
          `${model.name}: more than ${limit} traversal steps (${nodes.length} configurations); ` +
            'make serializeState coarser (a context value that keeps growing makes the graph ' +
            `infinite${growth.mostVaried()}) or raise \`limit\``,
        );
      }
      const transition = model.next(node.config, step, options.checkDeterminism ?? true);
      let to = byKey.get(transition.to.key);
      if (to === undefined) to = add(transition.to, at, step);
      else if (
        options.serializeState &&
        (nodes[to] as Node).config.exactKey !== transition.to.exactKey &&
        !mergedSeen.has(transition.to.exactKey)
      ) {
        mergedSeen.add(transition.to.exactKey);
        merged.push({ rep: to, config: transition.to });
      }
      node.edges.push({ step, to, transition });
    }
  }

  for (const { rep, config } of merged) {
    steps += checkSameBehaviour(model, graph, nodes[rep] as Node, config, limit - steps);
  }

  const configurations: ExploredConfiguration[] = [];
  for (const [index, node] of nodes.entries()) {
    const via: ModelStep[] = [];
    for (let n: Node = node; n.via; n = nodes[n.parent] as Node) via.push(n.via);
    via.reverse();
    configurations.push({
      ...node.config,
      index,
      steps: via,
      events: via.map((s) => s.event),
      edges: node.edges,
    });
  }
  return {
    graph,
    model,
    configurations,
    initial: { macrostep: start.macrostep, seed: start.seed },
    traversalSteps: steps,
  };
}

/** The transitions a step took, as coverage labels (`(refused)` when none). */
function behaviour(graph: MachineGraph, transition: ModelTransition): string {
  const labels = transition.macrostep.microsteps
    .flatMap((m) => m.transitions)
    .map((t) => {
      const key = graph.keyOf(t);
      return graph.transitions.find((info) => info.key === key)?.label ?? key ?? '?';
    });
  return labels.length ? labels.join(', then ') : '(refused)';
}

/**
 * A coarse key merges configurations; that is only sound when the merged ones decide alike.
 * Each configuration the traversal merged into another is tried with the same steps, and a
 * step that takes other transitions there means the key hides what a guard reads.
 */
function checkSameBehaviour(
  model: ConfigurationModel,
  graph: MachineGraph,
  rep: Node,
  config: Configuration,
  budget: number,
): number {
  let used = 0;
  const byStep = new Map(rep.edges.map((e) => [stepKey(e.step), e]));
  for (const step of model.stepsFrom(config)) {
    const mine = byStep.get(stepKey(step));
    if (!mine) continue;
    if (++used > budget) return used;
    const other = model.next(config, step);
    const a = behaviour(graph, mine.transition);
    const b = behaviour(graph, other);
    if (a === b) continue;
    throw new Error(
      `${model.name}: serializeState gives one key to states that behave differently, so the ` +
        'traversal tests only the first of them:\n' +
        `  key: ${config.key}\n` +
        `  at ${rep.config.exactKey}\n    ${formatEvent(step.event)} takes ${a}\n` +
        `  at ${config.exactKey}\n    ${formatEvent(step.event)} takes ${b}\n` +
        'The key hides a guard boundary: keep in it what the guard reads (with stateKey, split ' +
        'the field at the value the guard compares against).',
    );
  }
  return used;
}

function stepKey(step: ModelStep): string {
  return `${step.kind} ${step.child ?? ''} ${stableStringify(step.event)}`;
}

/**
 * Counts the distinct values of each top-level context field across the configurations
 * explored: a field past the maximum grows without bound, and the traversal stops at once
 * naming it (long before the step limit or the heap).
 */
class GrowthWatch {
  readonly #values = new Map<string, Set<string>>();
  readonly #lengths = new Map<string, { min: number; max: number }>();

  constructor(
    readonly name: string,
    readonly max: number,
  ) {}

  add(config: Configuration, count: number): void {
    const context = config.snapshot.context;
    if (context === null || typeof context !== 'object') return;
    for (const [field, value] of Object.entries(context as Record<string, unknown>)) {
      let seen = this.#values.get(field);
      if (!seen) this.#values.set(field, (seen = new Set()));
      if (seen.size > this.max) continue;
      seen.add(typeof value === 'number' ? String(value) : stableStringify(value));
      const size = sizeOf(value);
      if (size !== undefined) {
        const range = this.#lengths.get(field) ?? { min: size, max: size };
        range.min = Math.min(range.min, size);
        range.max = Math.max(range.max, size);
        this.#lengths.set(field, range);
      }
      if (seen.size > this.max) {
        const range = this.#lengths.get(field);
        const what = Array.isArray(value)
          ? `its length went from ${range?.min} to ${range?.max}`
          : typeof value === 'number'
            ? `from ${range?.min} to ${range?.max}`
            : `its size went from ${range?.min} to ${range?.max}`;
        throw new Error(
          `${this.name}: context.${field} grows without bound: it took more than ${this.max} ` +
            `distinct values in ${count} configurations (${what}), so the graph of states is ` +
            `infinite. Key the state on classes of context.${field} instead of its value, e.g. ` +
            `serializeState: stateKey({ '${field}${Array.isArray(value) || typeof value === 'string' ? '.length' : ''}': [1, 2] }) ` +
            '(0 / 1 / many; add the values its guards compare against), and compare the value ' +
            'itself with compareContext; or raise `maxDistinctValues`.',
        );
      }
    }
  }

  /** `; context.x varies most (N values)` for the step-limit message. */
  mostVaried(): string {
    let best: [string, number] | undefined;
    for (const [field, seen] of this.#values)
      if (!best || seen.size > best[1]) best = [field, seen.size];
    return best && best[1] > 1 ? `; context.${best[0]} varies most, ${best[1]} values` : '';
  }
}

function sizeOf(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' || Array.isArray(value)) return value.length;
  if (value !== null && typeof value === 'object') return Object.keys(value).length;
  return undefined;
}
