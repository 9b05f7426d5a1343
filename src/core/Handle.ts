import type { AnyActorRef, EventObject } from 'xstate';
import { SessionNotFoundError } from './errors.js';
import type {
  CallOptions,
  SessionHandle,
  SessionMessage,
  SessionSnapshot,
  SessionSupervisor,
  SubscribeOptions,
} from './types.js';

/** @internal What a handle needs from its supervisor (the core's, or a cluster node's). */
export interface HandleOwner extends SessionSupervisor {
  logicNameOf(id: string): string | undefined;
  /** The session's actor in this process, or `undefined` (ended, or running on another node). */
  actorOf(id: string): AnyActorRef | undefined;
}

/** @internal A handle bound to one session ID. Cheap: made on demand, holds nothing but the ID. */
export class Handle implements SessionHandle {
  readonly #sup: HandleOwner;
  readonly id: string;
  constructor(sup: HandleOwner, id: string) {
    this.#sup = sup;
    this.id = id;
  }
  get logic(): string {
    return this.#sup.logicNameOf(this.id) ?? 'default';
  }
  /** The session's actor: only in the process that runs it (an XState actor does not travel). */
  get actor(): AnyActorRef {
    const actor = this.#sup.actorOf(this.id);
    if (!actor) throw new SessionNotFoundError(this.id);
    return actor;
  }
  call<T = unknown, TEvent extends EventObject = EventObject>(
    event: TEvent,
    options?: CallOptions,
  ): Promise<T> {
    return this.#sup.call<T>(this.id, event, options);
  }
  cast<TEvent extends EventObject>(event: TEvent): void {
    this.#sup.cast(this.id, event);
  }
  snapshot(): SessionSnapshot {
    return this.#sup.snapshot(this.id);
  }
  subscribe(listener: (message: SessionMessage) => void, options?: SubscribeOptions): () => void {
    return this.#sup.subscribe(this.id, listener, options);
  }
  touch(): boolean {
    return this.#sup.touch(this.id);
  }
  terminate(): Promise<void> {
    return this.#sup.terminate(this.id);
  }
}
