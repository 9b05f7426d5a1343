import type { AnyActorRef } from 'xstate';
import type { PendingCall } from './CallTracker.js';
import type { DeadlineNode } from './DeadlineQueue.js';
import type { EndReason, SessionMessage, SessionSnapshot } from './types.js';

/** @internal A subscriber of one session. */
export interface Subscriber {
  listener: (message: SessionMessage) => void;
  select: ((s: SessionSnapshot) => unknown) | undefined;
  equals: (a: unknown, b: unknown) => boolean;
  last: unknown;
  active: boolean;
}

/**
 * @internal One running session: its actor plus the supervisor's bookkeeping about it. It is its
 * own node in the idle queue (no separate node object: memory per session is a target), and
 * fields that few sessions need are created on first use.
 */
export class Entry implements DeadlineNode<Entry> {
  id: string;
  readonly logicName: string;
  readonly input: unknown;
  startedAt: number;
  actor!: AnyActorRef;
  lastActiveAt: number;
  version = 1;
  lastSnap: unknown;
  /** Increases when the session restarts after a crash. */
  generation = 0;
  starting = true;
  /** The session left this process's memory without ending (passivated, evicted). */
  left = false;
  /** Why the session ended, once it has. */
  ended: EndReason | undefined;
  /** What the session's machine last threw. */
  fault: unknown;
  subscribers: Set<Subscriber> | undefined;
  calls: Set<PendingCall> | undefined;
  untilCalls = 0;
  watch: { unsubscribe(): void } | undefined;
  crashes: number[] | undefined;
  lifetime: DeadlineNode<Entry> | undefined;
  /** With a store: the version last written, and the node of the passivation queue. */
  storedVersion = 0;
  /** Versions written but not (yet) known to be stored: a write that timed out may still land. */
  attempted: number[] = [];
  passivation: DeadlineNode<Entry> | undefined;
  // idle queue node
  deadline = 0;
  prev: Entry | undefined;
  next: Entry | undefined;
  queued = false;

  constructor(id: string, logicName: string, input: unknown, now: number) {
    this.id = id;
    this.logicName = logicName;
    this.input = input;
    this.startedAt = now;
    this.lastActiveAt = now;
  }

  get value(): Entry {
    return this;
  }
}
