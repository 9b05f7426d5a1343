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

/** @internal What few sessions need, kept apart so an idle session does not carry it. */
interface Cold {
  fault?: unknown;
  subscribers?: Set<Subscriber> | undefined;
  calls?: Set<PendingCall> | undefined;
  untilCalls?: number;
  watch?: { unsubscribe(): void } | undefined;
  crashes?: number[] | undefined;
  lifetime?: DeadlineNode<Entry> | undefined;
  storedVersion?: number;
  attempted?: number[];
  passivation?: DeadlineNode<Entry> | undefined;
}

/**
 * @internal One running session: its actor plus the supervisor's bookkeeping about it. It is its
 * own node in the idle queue (no separate node object), and what few sessions need (subscribers,
 * waiting calls, crash history, the store's bookkeeping) lives in a side object made on first
 * use: memory per idle session is a target (bench/core), and each field costs every session.
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
  // idle queue node
  deadline = 0;
  prev: Entry | undefined;
  next: Entry | undefined;
  queued = false;
  #cold: Cold | undefined;

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

  #c(): Cold {
    if (this.#cold === undefined) this.#cold = {};
    return this.#cold;
  }

  /** What the session's machine last threw. */
  get fault(): unknown {
    return this.#cold?.fault;
  }
  set fault(v: unknown) {
    this.#c().fault = v;
  }
  get subscribers(): Set<Subscriber> | undefined {
    return this.#cold?.subscribers;
  }
  set subscribers(v: Set<Subscriber> | undefined) {
    this.#c().subscribers = v;
  }
  get calls(): Set<PendingCall> | undefined {
    return this.#cold?.calls;
  }
  set calls(v: Set<PendingCall> | undefined) {
    this.#c().calls = v;
  }
  /** `until` calls waiting (they need every snapshot). */
  get untilCalls(): number {
    return this.#cold?.untilCalls ?? 0;
  }
  set untilCalls(v: number) {
    this.#c().untilCalls = v;
  }
  get watch(): { unsubscribe(): void } | undefined {
    return this.#cold?.watch;
  }
  set watch(v: { unsubscribe(): void } | undefined) {
    if (v === undefined && this.#cold === undefined) return;
    this.#c().watch = v;
  }
  get crashes(): number[] | undefined {
    return this.#cold?.crashes;
  }
  set crashes(v: number[] | undefined) {
    this.#c().crashes = v;
  }
  get lifetime(): DeadlineNode<Entry> | undefined {
    return this.#cold?.lifetime;
  }
  set lifetime(v: DeadlineNode<Entry> | undefined) {
    this.#c().lifetime = v;
  }
  /** With a store: the version last written. */
  get storedVersion(): number {
    return this.#cold?.storedVersion ?? 0;
  }
  set storedVersion(v: number) {
    this.#c().storedVersion = v;
  }
  /** Versions written but not (yet) known to be stored: a write that timed out may still land. */
  get attempted(): number[] {
    const c = this.#c();
    if (c.attempted === undefined) c.attempted = [];
    return c.attempted;
  }
  set attempted(v: number[]) {
    this.#c().attempted = v;
  }
  /** With `passivateAfterMs`: the node of the passivation queue. */
  get passivation(): DeadlineNode<Entry> | undefined {
    return this.#cold?.passivation;
  }
  set passivation(v: DeadlineNode<Entry> | undefined) {
    this.#c().passivation = v;
  }
}
