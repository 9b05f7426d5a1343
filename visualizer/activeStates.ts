import type { StateNodeDef } from '../src/visualizer/protocol.js';

/**
 * The ids of the state nodes a state value makes active: the root, then along the value
 * (`'idle'`, `{ auth: 'anonymous', cart: { shopping: 'empty' } }`), every node it names.
 */
export function activeStateIds(root: StateNodeDef, value: unknown): Set<string> {
  const ids = new Set<string>([root.id]);
  const visit = (node: StateNodeDef, v: unknown) => {
    if (typeof v === 'string') {
      const child = node.states.find((s) => s.key === v);
      if (child) enter(child, undefined);
    } else if (v && typeof v === 'object') {
      for (const [key, sub] of Object.entries(v as Record<string, unknown>)) {
        const child = node.states.find((s) => s.key === key);
        if (child) enter(child, sub);
      }
    }
  };
  const enter = (node: StateNodeDef, v: unknown) => {
    ids.add(node.id);
    // A parallel state's value lists every region; a region left out is still active.
    if (node.type === 'parallel' && (v === undefined || typeof v !== 'object')) {
      for (const region of node.states) ids.add(region.id);
    }
    visit(node, v);
  };
  visit(root, value);
  return ids;
}
