import type { PropertyEventType } from './propertyMachine.js';

/** How a call settled: with a value, or rejected with a `SessionError` code. */
export type Outcome = { value: unknown } | { code: string };

/** What the model knows of one running session. */
export interface ModelSession {
  id: string;
  n: number;
  state: 'idle' | 'locked';
  /** Index of the call whose id the machine keeps in `context.pending` (`null`: a cast's). */
  waiting: number | null;
  /** When it expires; `undefined` while subscribers keep it alive. */
  deadline: number | undefined;
  /** The last call, cast or touch, or when its first subscriber arrived or its last one left. */
  lastActive: number;
  /** Times of its recent crashes (for the restart budget). */
  crashes: number[];
  /** Indices of the subscribers attached now. */
  subs: Set<number>;
  /** Indices of the calls waiting now. */
  calls: Set<number>;
}

export interface ModelCall {
  outcome: Outcome | undefined;
  /** When it times out. */
  deadline: number;
  session: ModelSession;
}

export interface ModelSub {
  session: ModelSession;
  /** Snapshot messages it must have received. */
  snapshots: number;
  /** The last snapshot's state value and count, once there was one. */
  last: { value: string; n: number } | undefined;
  ended: string | undefined;
}

/** The supervisor's options the model follows. */
export interface ModelConfig {
  idleTimeoutMs: number;
  callTimeoutMs: number;
  rotatedIdTtlMs: number;
  maxSessions: number;
  /** Whether a session with subscribers is kept from idling out (the supervisor's option). */
  subscribersKeepAlive: boolean;
  restart: { onCrash: boolean; maxRestarts: number; withinMs: number };
}

/** What one machine event does to a session in a state, by the machine's definition. */
function accepts(state: ModelSession['state'], type: PropertyEventType): boolean {
  if (type === 'boom' || type === 'boom.guard' || type === 'get') return true;
  if (state === 'locked') return type === 'unlock';
  return type !== 'unlock';
}

/**
 * A hand-written model of the supervisor (see DESIGN.md, "Core"), driven by the same operations
 * as the real one. Every method mirrors one public operation and returns what the caller must
 * see; the side effects on sessions, calls and subscribers are the expected ones. Time is the
 * model's own `now` (the test fakes the real clock to match).
 */
export class SupervisorModel {
  now = 0;
  readonly sessions = new Map<string, ModelSession>();
  /** IDs renamed away, with the time their SESSION_ROTATED answer lapses. */
  readonly tombstones = new Map<string, number>();
  readonly calls: ModelCall[] = [];
  readonly subs: ModelSub[] = [];
  readonly config: ModelConfig;

  constructor(config: ModelConfig) {
    this.config = config;
  }

  /** The error a missing ID answers: SESSION_ROTATED while its tombstone lasts. */
  #missing(id: string): string {
    const until = this.tombstones.get(id);
    return until !== undefined && until > this.now ? 'SESSION_ROTATED' : 'SESSION_NOT_FOUND';
  }

  start(id: string): string | undefined {
    if (this.sessions.has(id)) return 'SESSION_ALREADY_STARTED';
    if (this.#missing(id) === 'SESSION_ROTATED') return 'SESSION_ROTATED';
    if (this.sessions.size >= this.config.maxSessions) return 'SESSION_LIMIT_REACHED';
    this.sessions.set(id, {
      id,
      n: 0,
      state: 'idle',
      waiting: null,
      deadline: this.now + this.config.idleTimeoutMs,
      lastActive: this.now,
      crashes: [],
      subs: new Set(),
      calls: new Set(),
    });
    return undefined;
  }

  /** Returns the new call's index; its outcome is set now or later. */
  call(id: string, type: PropertyEventType): number {
    const index = this.calls.length;
    const s = this.sessions.get(id);
    const call: ModelCall = {
      outcome: undefined,
      deadline: this.now + this.config.callTimeoutMs,
      session: s as ModelSession,
    };
    this.calls.push(call);
    if (!s) {
      call.outcome = { code: this.#missing(id) };
      return index;
    }
    this.#activity(s);
    if (!accepts(s.state, type)) {
      call.outcome = { code: 'EVENT_NOT_ACCEPTED' };
      return index;
    }
    s.calls.add(index);
    this.#deliver(s, type, index);
    return index;
  }

  /** Returns the error code `cast` throws, if any. */
  cast(id: string, type: PropertyEventType): string | undefined {
    const s = this.sessions.get(id);
    if (!s) return this.#missing(id);
    this.#activity(s);
    if (accepts(s.state, type)) this.#deliver(s, type, null);
    return undefined;
  }

  touch(id: string): boolean {
    const s = this.sessions.get(id);
    if (s) this.#activity(s);
    return s !== undefined;
  }

  terminate(id: string): string | undefined {
    const s = this.sessions.get(id);
    if (!s) return this.#missing(id);
    this.#end(s, 'terminated');
    return undefined;
  }

  /** Returns the error code, or the new subscriber's index. */
  subscribe(id: string): { code: string } | { index: number } {
    const s = this.sessions.get(id);
    if (!s) return { code: this.#missing(id) };
    const index = this.subs.length;
    this.subs.push({ session: s, snapshots: 0, last: undefined, ended: undefined });
    if (s.subs.size === 0) s.lastActive = this.now;
    s.subs.add(index);
    if (this.config.subscribersKeepAlive) s.deadline = undefined; // a watched session does not idle out
    return { index };
  }

  unsubscribe(index: number): void {
    const sub = this.subs[index];
    if (!sub || sub.ended !== undefined) return;
    const s = sub.session;
    if (!s.subs.delete(index)) return;
    sub.ended = 'unsubscribed';
    if (s.subs.size > 0) return;
    s.lastActive = this.now;
    if (this.config.subscribersKeepAlive) s.deadline = this.now + this.config.idleTimeoutMs;
  }

  rename(id: string, newId: string): string | undefined {
    const s = this.sessions.get(id);
    if (!s) return this.#missing(id);
    if (this.sessions.has(newId)) return 'SESSION_ALREADY_STARTED';
    this.sessions.delete(id);
    s.id = newId;
    this.sessions.set(newId, s);
    this.tombstones.delete(newId);
    this.tombstones.set(id, this.now + this.config.rotatedIdTtlMs);
    // A rename is not activity: its idle deadline is re-armed from the last activity. Its
    // subscribers are told `rotated` and leave, and that counts as the last one leaving (as an
    // unsubscribe does): a session watched for long must not expire on the spot.
    if (s.subs.size > 0) s.lastActive = this.now;
    this.#endSubs(s, 'rotated');
    s.deadline = s.lastActive + this.config.idleTimeoutMs;
    return undefined;
  }

  /** Moves time on, firing call timeouts and expiries in the order they fall due. */
  advance(ms: number): void {
    const until = this.now + ms;
    for (;;) {
      let next: { at: number; fire: () => void } | undefined;
      for (const [i, c] of this.calls.entries()) {
        if (c.outcome === undefined && c.deadline <= until && (!next || c.deadline < next.at))
          next = { at: c.deadline, fire: () => this.#settle(i, { code: 'CALL_TIMEOUT' }) };
      }
      for (const s of this.sessions.values()) {
        if (s.deadline !== undefined && s.deadline <= until && (!next || s.deadline < next.at))
          next = { at: s.deadline, fire: () => this.#end(s, 'expired') };
      }
      if (!next) break;
      this.now = next.at;
      next.fire();
    }
    this.now = until;
  }

  /** Ends every session with reason `shutdown`. */
  shutdown(): void {
    for (const s of [...this.sessions.values()]) this.#end(s, 'shutdown');
  }

  pendingCalls(): number {
    return this.calls.filter((c) => c.outcome === undefined).length;
  }

  activeSubs(): number {
    return this.subs.filter((s) => s.ended === undefined).length;
  }

  #activity(s: ModelSession): void {
    s.lastActive = this.now;
    if (s.deadline !== undefined) s.deadline = this.now + this.config.idleTimeoutMs;
  }

  #deliver(s: ModelSession, type: PropertyEventType, callIndex: number | null): void {
    switch (type) {
      case 'boom':
      case 'boom.guard':
        this.#crash(s);
        return;
      case 'inc':
        s.n++;
        break;
      case 'get':
        // A reply alone changes neither context nor state: XState keeps the same snapshot.
        if (callIndex !== null) this.#settle(callIndex, { value: s.n });
        return;
      case 'wait':
        s.waiting = callIndex;
        break;
      case 'release':
        if (s.waiting !== null) this.#settle(s.waiting, { value: s.n });
        s.waiting = null;
        break;
      case 'lock':
        s.state = 'locked';
        break;
      case 'unlock':
        s.state = 'idle';
        break;
    }
    this.#changed(s);
  }

  /** An accepted event that assigns or moves makes a new snapshot; every subscriber is told. */
  #changed(s: ModelSession): void {
    for (const i of s.subs) {
      const sub = this.subs[i]!;
      sub.snapshots++;
      sub.last = { value: s.state, n: s.n };
    }
  }

  #settle(index: number, outcome: Outcome): void {
    const call = this.calls[index]!;
    if (call.outcome !== undefined) return;
    call.outcome = outcome;
    call.session.calls.delete(index);
  }

  #crash(s: ModelSession): void {
    const { onCrash, maxRestarts, withinMs } = this.config.restart;
    let restarting = false;
    if (onCrash) {
      s.crashes = s.crashes.filter((t) => this.now - t < withinMs);
      restarting = s.crashes.length < maxRestarts;
      s.crashes.push(this.now);
    }
    if (!restarting) {
      this.#end(s, 'crashed');
      return;
    }
    for (const i of [...s.calls]) this.#settle(i, { code: 'SESSION_CRASHED' });
    s.n = 0;
    s.state = 'idle';
    s.waiting = null;
    this.#changed(s);
  }

  #end(s: ModelSession, reason: 'terminated' | 'expired' | 'crashed' | 'shutdown'): void {
    this.sessions.delete(s.id);
    const code = reason === 'crashed' ? 'SESSION_CRASHED' : 'SESSION_ENDED';
    for (const i of [...s.calls]) this.#settle(i, { code });
    this.#endSubs(s, reason);
  }

  #endSubs(s: ModelSession, reason: string): void {
    for (const i of s.subs) this.subs[i]!.ended = reason;
    s.subs.clear();
  }
}
