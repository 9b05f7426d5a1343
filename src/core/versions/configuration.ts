import type { AnyStateMachine, AnyStateNode } from 'xstate';
import { AFTER_PREFIX } from '../xstateInternals.js';

/**
 * @internal
 * The state nodes active in a state value, the root included, and the keys of the value that
 * name no state node of the machine (`cart.saved` when the machine has no `saved`).
 */
export function walkValue(
  machine: AnyStateMachine,
  value: unknown,
): { nodes: AnyStateNode[]; unknown: string[] } {
  const nodes: AnyStateNode[] = [];
  const unknown: string[] = [];
  const visit = (node: AnyStateNode, v: unknown) => {
    nodes.push(node);
    if (typeof v === 'string') {
      const child = node.states[v];
      if (child) visit(child, undefined);
      else unknown.push(`${node.id}.${v}`);
    } else if (v !== null && typeof v === 'object') {
      for (const [key, sub] of Object.entries(v)) {
        const child = node.states[key];
        if (child) visit(child, sub);
        else unknown.push(`${node.id}.${key}`);
      }
    } else if (v !== undefined) unknown.push(`${node.id} (value ${JSON.stringify(v)})`);
  };
  visit(machine.root, value);
  return { nodes, unknown };
}

/** @internal The delay and state of an `after` timer's id (`xstate.after.<delay>.<stateId>`). */
export function parseAfterId(
  id: string,
  machine: AnyStateMachine,
): { delay: string; stateId: string } | undefined {
  if (!id.startsWith(AFTER_PREFIX)) return undefined;
  const rest = id.slice(AFTER_PREFIX.length);
  // The delay may itself hold dots (a named delay `reservation.long`): take the longest state
  // id suffix the machine knows, else split at the first dot.
  let dot = rest.indexOf('.');
  let first: { delay: string; stateId: string } | undefined;
  while (dot > 0) {
    const candidate = { delay: rest.slice(0, dot), stateId: rest.slice(dot + 1) };
    first ??= candidate;
    if (nodeById(machine, candidate.stateId)) return candidate;
    dot = rest.indexOf('.', dot + 1);
  }
  return first;
}

const nodeMaps = new WeakMap<AnyStateMachine, Map<string, AnyStateNode>>();

/**
 * @internal A state node by id, or `undefined`. From a map built once per machine: XState's
 * `getStateNodeById` throws for an unknown id, and a restore asks for ids that are gone.
 */
export function nodeById(machine: AnyStateMachine, id: string): AnyStateNode | undefined {
  let map = nodeMaps.get(machine);
  if (!map) {
    map = new Map();
    const visit = (node: AnyStateNode) => {
      map!.set(node.id, node);
      for (const child of Object.values(node.states ?? {})) visit(child as AnyStateNode);
    };
    visit(machine.root);
    nodeMaps.set(machine, map);
  }
  return map.get(id);
}

/** @internal Whether the state node has an `after` transition with this delay. */
export function hasDelay(node: AnyStateNode, delay: string): boolean {
  const type = `${AFTER_PREFIX}${delay}.${node.id}`;
  return node.after.some((t: { eventType: string }) => t.eventType === type);
}

/** @internal The `after` event type of a delay in a state. */
export function afterId(delay: string, stateId: string): string {
  return `${AFTER_PREFIX}${delay}.${stateId}`;
}
