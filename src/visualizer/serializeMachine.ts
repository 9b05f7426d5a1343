import type { AnyStateMachine, AnyStateNode } from 'xstate';
import type { InvokeDef, MachineDef, StateNodeDef, TransitionDef } from './protocol.js';

/**
 * Serializes a machine's structure (from `machine.root`) into the plain definition the page
 * draws: state nodes with their types, initial states, transitions (event, guard name, targets,
 * delays) and invoked actors. Functions become their names; nothing from context is included.
 *
 * @example
 * ```ts
 * const def = serializeMachine(cartMachine);
 * def.root.states.map((s) => s.id); // ['cart.auth', 'cart.cart']
 * ```
 */
export function serializeMachine(machine: AnyStateMachine): MachineDef {
  return { id: machine.root.id, root: serializeNode(machine.root) };
}

function serializeNode(node: AnyStateNode): StateNodeDef {
  const def: StateNodeDef = {
    id: node.id,
    key: node.key,
    type: node.type,
    states: Object.values(node.states as Record<string, AnyStateNode>).map(serializeNode),
    transitions: serializeTransitions(node),
    invokes: node.invoke.map(
      (inv: { id: string; src: unknown }): InvokeDef => ({
        id: inv.id,
        src: typeof inv.src === 'string' ? inv.src : 'inline',
      }),
    ),
    entry: actionNames(node.entry),
    exit: actionNames(node.exit),
    tags: [...node.tags],
  };
  if (node.type === 'history' && node.history) def.history = node.history;
  if (node.type === 'compound') {
    const targets = node.initial?.target ?? [];
    def.initial = targets.map((t: AnyStateNode) => t.id);
  }
  if (node.description) def.description = node.description;
  return def;
}

function serializeTransitions(node: AnyStateNode): TransitionDef[] {
  const out: TransitionDef[] = [];
  for (const [eventType, list] of node.transitions as Map<string, any[]>) {
    for (const t of list) out.push(serializeTransition(node, eventType, t));
  }
  for (const t of (node.always ?? []) as any[]) out.push(serializeTransition(node, '', t));
  return out;
}

function serializeTransition(node: AnyStateNode, eventType: string, t: any): TransitionDef {
  const def: TransitionDef = {
    event: eventType,
    label: eventType,
    kind: 'event',
    targets: ((t.target ?? []) as AnyStateNode[]).map((n) => n.id),
    reenter: Boolean(t.reenter),
    actions: actionNames(t.actions ?? []),
  };
  const guard = guardName(t.guard);
  if (guard !== undefined) def.guard = guard;
  if (eventType === '') {
    def.kind = 'always';
    def.label = 'always';
  } else if ('delay' in t) {
    def.kind = 'after';
    const delay: number | string =
      typeof t.delay === 'number' || typeof t.delay === 'string' ? t.delay : 'expr';
    def.delay = delay;
    def.label = `after ${formatDelay(delay)}`;
  } else if (eventType.startsWith('xstate.done.actor.')) {
    def.kind = 'done';
    def.label = `done: ${invokeSrc(node, eventType.slice('xstate.done.actor.'.length))}`;
  } else if (eventType.startsWith('xstate.error.actor.')) {
    def.kind = 'error';
    def.label = `error: ${invokeSrc(node, eventType.slice('xstate.error.actor.'.length))}`;
  } else if (eventType.startsWith('xstate.done.state.')) {
    def.kind = 'done';
    def.label = 'done';
  }
  return def;
}

function invokeSrc(node: AnyStateNode, invokeId: string): string {
  const inv = node.invoke.find((i: { id: string }) => i.id === invokeId);
  return typeof inv?.src === 'string' && !inv.src.startsWith('xstate.invoke.') ? inv.src : invokeId;
}

/** `900000` → `15 min`, `1500` → `1.5 s`; named delays stay as they are. */
export function formatDelay(delay: number | string): string {
  if (typeof delay === 'string') return delay;
  if (delay >= 3_600_000 && delay % 60_000 === 0) return `${+(delay / 3_600_000).toFixed(2)} h`;
  if (delay >= 60_000) return `${+(delay / 60_000).toFixed(2)} min`;
  if (delay >= 1_000) return `${+(delay / 1_000).toFixed(2)} s`;
  return `${delay} ms`;
}

/** A readable name for a guard: named guards, `!a`, `a && b`, `a || b`, `in(#id)`. */
export function guardName(guard: unknown): string | undefined {
  if (guard === undefined || guard === null) return undefined;
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'function') {
    const g = guard as { name?: string; guards?: unknown[]; stateValue?: unknown };
    if (g.name === 'not' && Array.isArray(g.guards)) return `!${guardName(g.guards[0]) ?? 'guard'}`;
    if ((g.name === 'and' || g.name === 'or') && Array.isArray(g.guards)) {
      const parts = g.guards.map((x) => guardName(x) ?? 'guard');
      return parts.join(g.name === 'and' ? ' && ' : ' || ');
    }
    if (g.name === 'stateIn')
      return `in(${typeof g.stateValue === 'string' ? g.stateValue : JSON.stringify(g.stateValue)})`;
    return g.name && g.name !== 'guard' ? g.name : 'inline guard';
  }
  if (typeof guard === 'object' && typeof (guard as { type?: unknown }).type === 'string') {
    return (guard as { type: string }).type;
  }
  return 'guard';
}

function actionNames(actions: readonly unknown[]): string[] {
  const out: string[] = [];
  for (const a of actions) {
    if (typeof a === 'string') out.push(a);
    else if (typeof a === 'function') {
      const f = a as { type?: string; name?: string; id?: unknown; sendId?: unknown };
      // XState adds a raise/cancel pair to the entry/exit of a state with `after`: internal.
      const internalId =
        f.type === 'xstate.raise' ? f.id : f.type === 'xstate.cancel' ? f.sendId : 0;
      if (typeof internalId === 'string' && internalId.startsWith('xstate.after.')) continue;
      if (f.type?.startsWith('xstate.')) out.push(f.type.slice('xstate.'.length));
      else out.push(f.name || 'inline');
    } else if (a && typeof a === 'object' && typeof (a as { type?: unknown }).type === 'string') {
      out.push((a as { type: string }).type);
    }
  }
  return out;
}
