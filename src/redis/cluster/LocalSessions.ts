import type { ActorSystem, AnyActorLogic, AnyActorRef, EventObject } from 'xstate';
import {
  EventNotAcceptedError,
  InvalidSessionIdError,
  isValidSessionId,
  type ListOptions,
  type SessionInfo,
  type SessionSnapshot,
  type SessionSupervisor,
} from '../../index.js';

/** How many remote sessions' last snapshots a node keeps (least recently seen go first). */
const MIRROR_MAX = 10_000;

/** @internal The in-process supervisor a cluster node wraps (evict: a lost lease). */
export type Evictable = SessionSupervisor & { evict?: (id: string) => unknown };

/**
 * @internal
 * What a cluster node answers from this process alone: the sessions it runs (the in-process
 * supervisor's list, logics, actors) and the last snapshot it saw of each remote one.
 */
export abstract class LocalSessions {
  /** The in-process supervisor of the sessions this node owns (set by the node's constructor). */
  protected local!: Evictable;
  /** Snapshots (and logic names) of remote sessions this node saw last, for `snapshot()`. */
  protected readonly mirror = new Map<string, { snapshot?: SessionSnapshot; logic?: string }>();

  protected see(
    id: string,
    seen: { snapshot?: SessionSnapshot | undefined; logic?: string | undefined },
  ): void {
    const cur = this.mirror.get(id) ?? {};
    this.mirror.delete(id);
    if (this.mirror.size >= MIRROR_MAX) {
      const oldest = this.mirror.keys().next().value;
      if (oldest !== undefined) this.mirror.delete(oldest);
    }
    if (seen.snapshot && (!cur.snapshot || seen.snapshot.version >= cur.snapshot.version))
      cur.snapshot = seen.snapshot;
    if (seen.logic) cur.logic = seen.logic;
    this.mirror.set(id, cur);
  }

  list(options?: ListOptions): SessionInfo[] {
    return this.local.list(options);
  }

  get count(): number {
    return this.local.count;
  }

  logicOf(id: string): AnyActorLogic | undefined {
    const local = this.local.logicOf(id);
    if (local) return local;
    const name = this.mirror.get(id)?.logic;
    return name === undefined ? undefined : this.local.logics[name];
  }

  /** @internal The logic name of a session, for handles. */
  logicNameOf(id: string): string {
    return this.local.get(id)?.logic ?? this.mirror.get(id)?.logic ?? 'default';
  }

  /** @internal The session's actor when it runs on this node (an actor does not travel). */
  actorOf(id: string): AnyActorRef | undefined {
    return this.local.started(id) ? this.local.get(id)?.actor : undefined;
  }

  get logics(): Readonly<Record<string, AnyActorLogic>> {
    return this.local.logics;
  }

  get actor(): AnyActorRef {
    return this.local.actor;
  }

  get system(): ActorSystem<any> {
    return this.local.system;
  }
}

/** @internal Takes a session out of this process (its lease is gone); whether it ran here. */
export function dropLocal(local: Evictable, id: string, report: (err: unknown) => void): boolean {
  if (!local.started(id)) return false;
  try {
    if (local.evict) local.evict(id);
    // Without persistence there is nothing to keep: the session is gone with the lease.
    else void local.terminate(id).catch(() => {});
    return true;
  } catch (err) {
    report(err);
    return false;
  }
}

/** @internal Throws INVALID_SESSION_ID for an ID that is not one. */
export function checkId(id: string): void {
  if (!isValidSessionId(id)) throw new InvalidSessionIdError(id);
}

/** @internal Throws as the core does for a bad ID or something that is not an event. */
export function checkEvent(id: string, event: unknown): asserts event is EventObject {
  checkId(id);
  const ok =
    typeof event === 'object' && event !== null && typeof (event as EventObject).type === 'string';
  if (!ok)
    throw new EventNotAcceptedError(
      id,
      undefined,
      'An event must be an object with a string `type`',
    );
}
