import { type AnyActorLogic, type AnyActorRef, type AnyStateMachine, createMachine } from 'xstate';
import { type InvocationKind, invocationKindOf, sendToParent } from './macrosteps.js';

const SETTLE = 'session-process.testing.settle';
const NEXT = 'session-process.testing.next';
/** Prefix of the source name of an invocation given inline (`invoke: { src: fromPromise(…) }`). */
export const INLINE_SOURCE_PREFIX = 'xstate.invoke.';

interface StandInSnapshot {
  status: 'active' | 'done' | 'error' | 'stopped';
  output: unknown;
  error: unknown;
  context: unknown;
  input: unknown;
}

interface Running {
  actor: AnyActorRef;
  kind: InvocationKind;
}

/**
 * Stands in for a machine's invoked actors so the runner decides when and how each one settles
 * and what it emits: every actor of `setup({ actors })` that the machine invokes, and every
 * invocation given inline (`invoke: { src: fromPromise(…) }`), is replaced with a stand-in of
 * the same kind that does nothing on its own. A promise stays pending until the path reaches
 * its `xstate.done.actor.<id>` event (resolved with that event's `output`) or its
 * `xstate.error.actor.<id>` event (rejected with its `error`); an observable emits the values
 * the path gives it (its parent gets `xstate.snapshot.<id>`), completes and fails; a callback
 * sends back the events the path gives it, and fails. The state while it runs is observable,
 * and no real time passes.
 * @internal
 */
export class InvocationController {
  readonly #running = new Map<string, Running[]>();
  readonly #starts = new Map<string, number>();
  readonly #provided = new WeakMap<AnyStateMachine, AnyStateMachine>();

  /** `machine` with each invoked actor (named in `sources`, or inline) replaced by a stand-in. */
  provide<TMachine extends AnyStateMachine>(
    machine: TMachine,
    sources: readonly string[],
  ): TMachine {
    const known = this.#provided.get(machine);
    if (known) return known as TMachine;
    let out: AnyStateMachine = machine;
    const config = replaceInlineInvocations(machine.config, (logic) =>
      this.#standIn(invocationKindOf(logic)),
    );
    if (config !== machine.config) out = createMachine(config as never, machine.implementations);
    if (sources.length > 0) {
      const actors: Record<string, unknown> = {};
      for (const src of sources)
        actors[src] = this.#standIn(invocationKindOf(machine.implementations.actors[src] as never));
      out = out.provide({ actors } as never);
    }
    this.#provided.set(machine, out);
    return out as TMachine;
  }

  #standIn(kind: InvocationKind): AnyActorLogic {
    const logic = {
      config: undefined,
      getInitialSnapshot: (_scope: unknown, input: unknown): StandInSnapshot => ({
        status: 'active',
        output: undefined,
        error: undefined,
        context: undefined,
        input,
      }),
      start: (_snapshot: StandInSnapshot, { self }: { self: AnyActorRef }) => {
        const list = this.#running.get(self.id) ?? [];
        list.push({ actor: self, kind });
        this.#running.set(self.id, list);
        this.#starts.set(self.id, (this.#starts.get(self.id) ?? 0) + 1);
      },
      transition: (
        snapshot: StandInSnapshot,
        event: any,
        { self }: { self: AnyActorRef },
      ): StandInSnapshot => {
        if (snapshot.status !== 'active') return snapshot;
        switch (event.type) {
          case SETTLE:
            this.#remove(self);
            return 'error' in event
              ? { ...snapshot, status: 'error', error: event.error, input: undefined }
              : { ...snapshot, status: 'done', output: event.output, input: undefined };
          case NEXT:
            return { ...snapshot, context: event.value };
          case 'xstate.stop':
            // A stopped invocation (the state was left, the session ended) can no longer settle.
            this.#remove(self);
            return { ...snapshot, status: 'stopped', input: undefined };
          default:
            return snapshot;
        }
      },
      getPersistedSnapshot: (snapshot: StandInSnapshot) => snapshot,
      restoreSnapshot: (snapshot: StandInSnapshot) => snapshot,
    };
    return logic as unknown as AnyActorLogic;
  }

  #remove(actor: AnyActorRef): void {
    const list = this.#running.get(actor.id);
    if (!list) return;
    const at = list.findIndex((r) => r.actor === actor);
    if (at >= 0) list.splice(at, 1);
    if (list.length === 0) this.#running.delete(actor.id);
  }

  /** Invocation ids now running. */
  pendingIds(): string[] {
    return [...this.#running.keys()];
  }

  /**
   * The invocations running, with how often each id was started since `reset` (a state left and
   * entered again starts its invocation again): `fetch#1, ticker#2`.
   */
  describeRunning(): string {
    return [...this.#running.keys()]
      .sort()
      .map((id) => `${id}#${this.#starts.get(id) ?? 0}`)
      .join(', ');
  }

  /** Settles the oldest running invocation with this id; `false` when none runs. */
  settle(id: string, outcome: { output: unknown } | { error: unknown }): boolean {
    const running = this.#running.get(id)?.[0];
    if (!running) return false;
    running.actor.send({ type: SETTLE, ...outcome } as never);
    return true;
  }

  /** Makes the observable `id` emit `value`; `false` when none runs. */
  next(id: string, value: unknown): boolean {
    const running = this.#running.get(id)?.[0];
    if (!running) return false;
    running.actor.send({ type: NEXT, value } as never);
    return true;
  }

  /** Makes the callback `id` send `event` back to its parent; `false` when none runs. */
  sendBack(id: string, event: { type: string }): boolean {
    const running = this.#running.get(id)?.[0];
    if (!running) return false;
    sendToParent(running.actor, event);
    return true;
  }

  /** Forgets every running invocation and start count (between paths). */
  reset(): void {
    this.#running.clear();
    this.#starts.clear();
  }
}

/**
 * A copy of a machine config with each inline `invoke.src` (actor logic rather than a name)
 * replaced by `replace(logic)`; the same object when there is none. XState resolves an inline
 * source from the config itself (`xstate.invoke.<i>.<state id>`), so `provide` cannot reach it.
 */
function replaceInlineInvocations(config: any, replace: (logic: any) => unknown): any {
  if (!config || typeof config !== 'object') return config;
  let changed = false;
  let invoke = config.invoke;
  if (invoke !== undefined) {
    const list = Array.isArray(invoke) ? invoke : [invoke];
    const next = list.map((inv: any) => {
      if (!inv || typeof inv !== 'object' || typeof inv.src !== 'object' || inv.src === null)
        return inv;
      changed = true;
      return { ...inv, src: replace(inv.src) };
    });
    invoke = Array.isArray(config.invoke) ? next : next[0];
  }
  let states = config.states;
  if (states && typeof states === 'object') {
    const next: Record<string, unknown> = {};
    let statesChanged = false;
    for (const [key, child] of Object.entries(states)) {
      const replaced = replaceInlineInvocations(child, replace);
      if (replaced !== child) statesChanged = true;
      next[key] = replaced;
    }
    if (statesChanged) {
      states = next;
      changed = true;
    }
  }
  return changed ? { ...config, invoke, states } : config;
}
