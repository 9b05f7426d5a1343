import type { AnyActorRef, AnyStateMachine } from 'xstate';
import type { SessionSupervisor } from '../index.js';
import type { EventEntry, MachineDef } from './protocol.js';
import { serializeMachine } from './serializeMachine.js';

/** How often the list is asked for again while a page is open, ms. */
const RELIST_MS = 1_000;

/** @internal What the hub tells a watching connection. */
export interface FeedWatcher {
  /** Something changed somewhere: the list may need sending again. */
  listChanged(): void;
  /** The watched session received an event. */
  event(entry: Omit<EventEntry, 'seq'>): void;
  /** The watched session's snapshot changed. */
  snapshotChanged(): void;
  /** A session ended (the watcher checks whether it is the one it follows). */
  ended(sessionId: string, reason: string): void;
  /** Called every `throttleMs` while connected: send what piled up. */
  flush(): void;
}

/**
 * @internal
 * The one place the visualizer listens to the supervisor: a single `system.inspect` observer and
 * `start`/`stop` listeners, shared by every feed connection and only while at least one is open,
 * so that a visualizer nobody watches costs nothing. It never subscribes to sessions (a
 * subscription counts as activity and keeps a session from idling out).
 */
export class FeedHub {
  readonly #sessions: SessionSupervisor;
  readonly #throttleMs: number;
  readonly #watchers = new Set<FeedWatcher>();
  /** Selected session actor → the connections watching it. */
  readonly #byActor = new Map<AnyActorRef, Set<FeedWatcher>>();
  readonly #machines = new WeakMap<object, MachineDef>();
  #off: (() => void)[] = [];
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(sessions: SessionSupervisor, throttleMs: number) {
    this.#sessions = sessions;
    this.#throttleMs = throttleMs;
  }

  add(watcher: FeedWatcher): void {
    this.#watchers.add(watcher);
    if (this.#watchers.size === 1) this.#listen();
  }

  remove(watcher: FeedWatcher): void {
    this.unwatch(watcher);
    // Called again when a dropped connection's socket closes: stop only on the last real removal.
    if (this.#watchers.delete(watcher) && this.#watchers.size === 0) this.#stop();
  }

  /**
   * Follows one session's actor for this watcher (by actor, not by ID: a session whose ID is
   * rotated stays followed). Returns the actor, or `undefined` when the session is not running.
   */
  watch(watcher: FeedWatcher, sessionId: string): AnyActorRef | undefined {
    this.unwatch(watcher);
    const actor = actorHere(this.#sessions, sessionId);
    if (!actor) return undefined;
    let set = this.#byActor.get(actor);
    if (!set) this.#byActor.set(actor, (set = new Set()));
    set.add(watcher);
    return actor;
  }

  unwatch(watcher: FeedWatcher): void {
    for (const [key, set] of this.#byActor) {
      if (set.delete(watcher) && set.size === 0) this.#byActor.delete(key);
    }
  }

  /** The serialized definition of a session's machine (cached per machine object). */
  machineOf(sessionId: string): MachineDef | null {
    const logic = this.#sessions.logicOf(sessionId);
    if (!logic || !isMachine(logic)) return null;
    let def = this.#machines.get(logic);
    if (!def) this.#machines.set(logic, (def = serializeMachine(logic)));
    return def;
  }

  #listen(): void {
    const sessions = this.#sessions;
    const onStart = sessions.on('start', () => this.#listChanged());
    const onStop = sessions.on('stop', ({ sessionId, reason }) => {
      this.#listChanged();
      for (const w of this.#watchers) w.ended(sessionId, reason);
    });
    const inspection = sessions.system.inspect((ev: any) => {
      if (ev.type === '@xstate.snapshot') {
        this.#listDirty = true;
        const set = this.#byActor.get(ev.actorRef);
        if (set) for (const w of set) w.snapshotChanged();
      } else if (ev.type === '@xstate.event') {
        const set = this.#byActor.get(ev.actorRef);
        if (!set) return;
        const entry: Omit<EventEntry, 'seq'> = { at: Date.now(), event: ev.event };
        const source = ev.sourceRef as AnyActorRef | undefined;
        // Events from the supervisor's root are the app's own casts and calls: "from outside".
        if (source === ev.actorRef) entry.source = 'self';
        else if (source && source !== sessions.actor) entry.source = String(source.id);
        for (const w of set) w.event(entry);
      }
    });
    this.#off = [onStart, onStop, () => inspection.unsubscribe()];
    let ticks = 0;
    // Sessions on other nodes of a cluster start, change and end unseen here: the list is asked
    // for again about every second (a page gets it only when it differs from the last one sent).
    const relistEvery = Math.max(1, Math.round(RELIST_MS / this.#throttleMs));
    this.#timer = setInterval(() => {
      if (++ticks % relistEvery === 0) this.#listDirty = true;
      this.#flush();
    }, this.#throttleMs);
    this.#timer.unref?.();
  }

  #listDirty = true;

  #listChanged(): void {
    this.#listDirty = true;
  }

  #flush(): void {
    if (this.#listDirty) {
      this.#listDirty = false;
      for (const w of this.#watchers) w.listChanged();
    }
    for (const w of this.#watchers) w.flush();
  }

  #stop(): void {
    for (const off of this.#off) off();
    this.#off = [];
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#byActor.clear();
  }
}

/** The session's actor when it runs in this process (on a cluster node, it may run elsewhere). */
function actorHere(sessions: SessionSupervisor, id: string): AnyActorRef | undefined {
  const handle = sessions.get(id);
  if (!handle) return undefined;
  try {
    return handle.actor;
  } catch {
    return undefined; // a handle of a session running on another node has no actor here
  }
}

function isMachine(logic: unknown): logic is AnyStateMachine {
  const root = (logic as { root?: { states?: unknown } }).root;
  return typeof root === 'object' && root !== null && typeof root.states === 'object';
}
