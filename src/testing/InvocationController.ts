import { type AnyActorLogic, type AnyStateMachine, fromPromise } from 'xstate';

interface Invocation {
  resolve(output: unknown): void;
  reject(error: unknown): void;
}

/**
 * Stands in for a machine's invoked actors so the runner decides when and how each invocation
 * settles: every actor of `setup({ actors })` that the machine invokes is replaced (through
 * `machine.provide`) with a promise that stays pending until the path reaches its
 * `xstate.done.actor.<id>` event (resolved with that event's `output`) or its
 * `xstate.error.actor.<id>` event (rejected with its `error`). The state while the invocation
 * runs is therefore observable, and no real time passes.
 * @internal
 */
export class InvocationController {
  readonly #pending = new Map<string, Invocation[]>();

  /** `machine` with each of `sources` replaced by a controlled promise actor. */
  provide<TMachine extends AnyStateMachine>(
    machine: TMachine,
    sources: readonly string[],
  ): TMachine {
    if (sources.length === 0) return machine;
    const actors: Record<string, AnyActorLogic> = {};
    for (const src of sources) actors[src] = this.#actor();
    return machine.provide({ actors } as never) as TMachine;
  }

  #actor() {
    return fromPromise<unknown>(
      ({ self, signal }) =>
        new Promise((resolve, reject) => {
          const invocation: Invocation = { resolve, reject };
          const list = this.#pending.get(self.id) ?? [];
          list.push(invocation);
          this.#pending.set(self.id, list);
          // A stopped invocation (the state was left, the session ended) can no longer settle.
          signal.addEventListener('abort', () => this.#remove(self.id, invocation), { once: true });
        }),
    );
  }

  #remove(id: string, invocation: Invocation): void {
    const list = this.#pending.get(id);
    if (!list) return;
    const at = list.indexOf(invocation);
    if (at >= 0) list.splice(at, 1);
    if (list.length === 0) this.#pending.delete(id);
  }

  /** Invocation ids now pending. */
  pendingIds(): string[] {
    return [...this.#pending.keys()];
  }

  /** Settles the oldest pending invocation with this id; `false` when none is pending. */
  settle(id: string, outcome: { output: unknown } | { error: unknown }): boolean {
    const invocation = this.#pending.get(id)?.[0];
    if (!invocation) return false;
    this.#remove(id, invocation);
    if ('error' in outcome) invocation.reject(outcome.error);
    else invocation.resolve(outcome.output);
    return true;
  }

  /** Forgets every pending invocation (between paths). */
  reset(): void {
    this.#pending.clear();
  }
}
