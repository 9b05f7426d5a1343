import type { AnyStateMachine, AnyStateNode, AnyTransitionDefinition } from 'xstate';
import { getStateNodes } from 'xstate/graph';

/** One transition definition of the machine, as counted by the coverage. */
export interface TransitionInfo {
  /** Stable key: `<source state id> <event descriptor> #<index>`. */
  readonly key: string;
  /** Id of the state node that declares it (`cart.cart.shopping.active`). */
  readonly source: string;
  /** Its event descriptor (`cart.add`, `xstate.after.reservation.cart.cart.shopping.active`, or `''` for `always`). */
  readonly event: string;
  /** Readable: `cart.cart.shopping.active on cart.remove (#1, guard removesLastItem)`. */
  readonly label: string;
  /** Name of its guard (`inline` for an anonymous function), if it has one. */
  readonly guard?: string;
  /** Ids of its target state nodes (empty for a targetless transition). */
  readonly targets: readonly string[];
}

/** A delayed (`after`) event of the machine. */
export interface DelayedEventInfo {
  /** The delay as written: milliseconds or the name of a delay in `setup({ delays })`. */
  readonly delay: unknown;
  readonly stateId: string;
}

/**
 * What the test model needs to know about a machine's structure: its state nodes and
 * transitions (the coverage totals), its delayed events and the actors it invokes.
 * @internal
 */
export interface MachineGraph {
  readonly machine: AnyStateMachine;
  readonly stateIds: readonly string[];
  /** The state nodes by id. */
  readonly nodes: ReadonlyMap<string, AnyStateNode>;
  readonly transitions: readonly TransitionInfo[];
  readonly delayedEvents: ReadonlyMap<string, DelayedEventInfo>;
  /** Keys of `setup({ actors })` that the machine invokes. */
  readonly invokedSources: readonly string[];
  /** Key of a transition definition of `machine`. */
  keyOf(definition: AnyTransitionDefinition): string | undefined;
}

function guardName(guard: unknown): string | undefined {
  if (typeof guard === 'string') return guard;
  if (guard && typeof guard === 'object' && 'type' in guard)
    return String((guard as { type: unknown }).type);
  if (typeof guard === 'function')
    return guard.name && guard.name !== 'guard' ? guard.name : 'inline';
  return undefined;
}

/** @internal */
export function analyzeMachine(machine: AnyStateMachine): MachineGraph {
  const nodes: AnyStateNode[] = [machine.root, ...getStateNodes(machine.root)];
  const transitions: TransitionInfo[] = [];
  const keys = new Map<AnyTransitionDefinition, string>();
  const delayedEvents = new Map<string, DelayedEventInfo>();
  const invokedSources = new Set<string>();

  const add = (
    node: AnyStateNode,
    descriptor: string,
    defs: readonly AnyTransitionDefinition[],
  ) => {
    defs.forEach((def, index) => {
      const key = `${node.id} ${descriptor} #${index}`;
      const guard = guardName(def.guard);
      const extra = [defs.length > 1 ? `#${index + 1}` : '', guard ? `guard ${guard}` : ''].filter(
        Boolean,
      );
      const on = descriptor === '' ? 'always' : `on ${descriptor}`;
      keys.set(def, key);
      transitions.push({
        key,
        source: node.id,
        event: descriptor,
        label: `${node.id} ${on}${extra.length ? ` (${extra.join(', ')})` : ''}`,
        ...(guard === undefined ? {} : { guard }),
        targets: (def.target ?? []).map((target: AnyStateNode) => target.id),
      });
    });
  };

  for (const node of nodes) {
    for (const [descriptor, defs] of node.transitions) add(node, descriptor, defs);
    if (node.always) add(node, '', node.always);
    for (const delayed of node.after) {
      delayedEvents.set(delayed.eventType, { delay: delayed.delay, stateId: node.id });
    }
    for (const invoke of node.invoke) {
      if (typeof invoke.src === 'string' && machine.implementations.actors[invoke.src])
        invokedSources.add(invoke.src);
    }
  }

  return {
    machine,
    // A history node never becomes active: it is a way into its parent, not a state to reach.
    stateIds: nodes.filter((node) => node.type !== 'history').map((node) => node.id),
    nodes: new Map(nodes.map((node) => [node.id, node])),
    transitions,
    delayedEvents,
    invokedSources: [...invokedSources],
    keyOf: (definition) => keys.get(definition),
  };
}

/** The state nodes active in `value` (the root included). @internal */
export function activeStateNodes(machine: AnyStateMachine, value: unknown): AnyStateNode[] {
  const out: AnyStateNode[] = [];
  const walk = (node: AnyStateNode, v: unknown) => {
    out.push(node);
    if (typeof v === 'string') {
      const child = node.states[v];
      if (child) walk(child, undefined);
    } else if (v !== null && typeof v === 'object') {
      for (const [key, sub] of Object.entries(v)) {
        const child = node.states[key];
        if (child) walk(child, sub);
      }
    }
  };
  walk(machine.root, value);
  return out;
}

/** Whether an event type matches a transition descriptor (`*`, `cart.*`). @internal */
export function descriptorMatches(descriptor: string, type: string): boolean {
  if (descriptor === type || descriptor === '*') return true;
  return descriptor.endsWith('.*') && type.startsWith(descriptor.slice(0, -1));
}
