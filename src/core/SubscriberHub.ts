import type { Entry, Subscriber } from './Entry.js';
import type { EndReason, SessionMessage, SessionSnapshot, SubscribeOptions } from './types.js';

/** @internal What the hub asks of the supervisor. */
export interface SubscriberHooks {
  /** A listener threw: report it, never let it reach the session or other listeners. */
  listenerFailed(error: unknown, entry: Entry): void;
  /** The session's actor changed snapshot and someone watches it. */
  changed(entry: Entry, snapshot: unknown): void;
  /** The entry's subscriber count went from 1 to 0 or from 0 to 1 (idle keep-alive). */
  occupancy(entry: Entry, occupied: boolean): void;
}

/**
 * @internal
 * Subscribers of sessions: the seed's live-view monitor for any number of listeners. A session's
 * actor is watched only while someone needs its snapshots (a subscriber or an `until` call), so
 * idle sessions cost no observer.
 */
export class SubscriberHub {
  readonly #hooks: SubscriberHooks;
  readonly #always: boolean;
  #count = 0;

  /** @param always watch every session, needed or not (a store saves every change) */
  constructor(hooks: SubscriberHooks, always = false) {
    this.#hooks = hooks;
    this.#always = always;
  }

  /** Subscribers attached now, over all sessions. */
  get size(): number {
    return this.#count;
  }

  add(
    entry: Entry,
    listener: (message: SessionMessage) => void,
    options: SubscribeOptions<any, any>,
    current: () => SessionSnapshot,
  ): () => void {
    const sub: Subscriber = {
      listener,
      select: options.select,
      equals: options.equals ?? Object.is,
      last: undefined,
      active: true,
    };
    if (sub.select) sub.last = sub.select(current());
    if (entry.subscribers === undefined) entry.subscribers = new Set();
    entry.subscribers.add(sub);
    this.#count++;
    this.watch(entry);
    if (entry.subscribers.size === 1) this.#hooks.occupancy(entry, true);
    return () => {
      if (!sub.active) return;
      sub.active = false;
      this.#count--;
      entry.subscribers?.delete(sub);
      if (entry.ended) return;
      this.unwatchIfIdle(entry);
      if (!entry.subscribers?.size) this.#hooks.occupancy(entry, false);
    };
  }

  /** Observes the entry's actor (idempotent). */
  watch(entry: Entry): void {
    if (entry.watch || entry.ended) return;
    entry.watch = entry.actor.subscribe({
      next: (snap) => this.#hooks.changed(entry, snap),
      // Crashes are handled where the supervisor receives them; this only keeps XState from
      // reporting the error as unhandled.
      error: () => {},
    });
  }

  /** Stops observing the entry's actor when nobody needs its snapshots. */
  unwatchIfIdle(entry: Entry): void {
    if (entry.watch && !this.#always && !entry.subscribers?.size && entry.untilCalls === 0) {
      entry.watch.unsubscribe();
      entry.watch = undefined;
    }
  }

  /** Stops observing, whoever needs it (the session ends or its actor is replaced). */
  unwatch(entry: Entry): void {
    entry.watch?.unsubscribe();
    entry.watch = undefined;
  }

  /** Hands a snapshot to every subscriber (to those whose selection changed, with `select`). */
  publish(entry: Entry, plain: SessionSnapshot): void {
    if (!entry.subscribers) return;
    for (const sub of entry.subscribers) {
      if (!sub.active) continue;
      try {
        if (sub.select) {
          const selected = sub.select(plain);
          if (sub.equals(sub.last, selected)) continue;
          sub.last = selected;
          sub.listener({ type: 'snapshot', snapshot: plain, version: plain.version, selected });
        } else {
          sub.listener({ type: 'snapshot', snapshot: plain, version: plain.version });
        }
      } catch (err) {
        this.#hooks.listenerFailed(err, entry);
      }
    }
  }

  /** Tells every subscriber, once, that the session is over for them; detaches them all. */
  ended(entry: Entry, reason: EndReason | 'rotated', error?: unknown): void {
    const subs = entry.subscribers;
    if (!subs) return;
    entry.subscribers = undefined;
    for (const sub of subs) {
      if (!sub.active) continue;
      sub.active = false;
      this.#count--;
      try {
        sub.listener(
          error === undefined ? { type: 'ended', reason } : { type: 'ended', reason, error },
        );
      } catch (err) {
        this.#hooks.listenerFailed(err, entry);
      }
    }
  }
}
