import type { AnyActorRef, EventObject } from 'xstate';
import {
  type CallOptions,
  type SessionHandle,
  type SessionMessage,
  SessionNotFoundError,
  type SessionSnapshot,
  type SubscribeOptions,
} from '../../index.js';
import type { ClusterSupervisor } from './ClusterSupervisor.js';

/** @internal A handle bound to one session ID on a cluster node; it works wherever the session runs. */
export class ClusterHandle implements SessionHandle {
  readonly #sup: ClusterSupervisor;
  readonly id: string;
  constructor(sup: ClusterSupervisor, id: string) {
    this.#sup = sup;
    this.id = id;
  }
  get logic(): string {
    return this.#sup.logicNameOf(this.id);
  }
  /** The session's actor: only on the node that runs it (an XState actor does not cross processes). */
  get actor(): AnyActorRef {
    const actor = this.#sup.localActor(this.id);
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
