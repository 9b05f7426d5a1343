import type { Redis } from 'ioredis';
import type {
  SessionMessage,
  SessionSnapshot,
  SessionSupervisor,
  SubscribeOptions,
} from '../../index.js';
import { messageOf } from '../../index.js';
import type { ClusterKeys } from './keys.js';

interface ViewSub {
  listener: (message: SessionMessage<any, any>) => void;
  select: ((s: SessionSnapshot) => unknown) | undefined;
  equals: (a: unknown, b: unknown) => boolean;
  last: unknown;
  /** Whether `last` holds a selected value yet (from the snapshot the subscription started at). */
  seeded: boolean;
  active: boolean;
}

interface View {
  id: string;
  subs: Set<ViewSub>;
  /** The highest version delivered: an older or equal one is dropped (failover, re-watch). */
  version: number;
  /** performance.now() of the last watch sent. */
  watchedAt: number;
  ended: boolean;
  /**
   * Snapshots that came before the owner's first answer (which says where the subscription
   * starts): held, then delivered if newer. `undefined` once the view knows its start.
   */
  early: SessionSnapshot[] | undefined;
}

/** A message on a view channel: a snapshot, the end, or `m`: the session left its node. */
type ViewWire =
  | { k: 's'; x: SessionSnapshot }
  | { k: 'e'; reason: string; error?: string }
  | { k: 'm' };

/** @internal The view message that tells watchers to watch again (the session moved). */
export const MOVED_WIRE = JSON.stringify({ k: 'm' });

/** @internal What the views need from the node. */
export interface ViewHooks {
  /** Asks the session's owner to publish its snapshots (activating it if needed); returns the current one. */
  watch(id: string): Promise<SessionSnapshot | undefined>;
  /** A snapshot this node saw (kept for `snapshot()`). */
  saw(id: string, snapshot: SessionSnapshot): void;
  report(err: unknown, id: string): void;
}

/**
 * @internal Subscribers of this node, for sessions wherever they run. Every view listens on the
 * session's view channel; the owner publishes each snapshot and the `ended` there while any node
 * watches (a publish that reaches nobody ends its forwarding). Versions only go up: a snapshot
 * not newer than the last one delivered is dropped, so a failover or a re-watch never shows an
 * older state after a newer one.
 */
export class RemoteViews {
  readonly #sub: Redis;
  readonly #keys: ClusterKeys;
  readonly #hooks: ViewHooks;
  readonly #views = new Map<string, View>();
  readonly #rewatchMs: number;

  constructor(sub: Redis, keys: ClusterKeys, hooks: ViewHooks, rewatchMs: number) {
    this.#sub = sub;
    this.#keys = keys;
    this.#hooks = hooks;
    this.#rewatchMs = rewatchMs;
  }

  get subscriberCount(): number {
    let n = 0;
    for (const v of this.#views.values()) n += v.subs.size;
    return n;
  }

  subscribe(
    id: string,
    listener: (message: SessionMessage<any, any>) => void,
    options: SubscribeOptions<any, any>,
    current: SessionSnapshot | undefined,
  ): () => void {
    if (typeof listener !== 'function')
      throw new TypeError('subscribe(id, listener): listener must be a function');
    let view = this.#views.get(id);
    const sub: ViewSub = {
      listener,
      select: options.select,
      equals: options.equals ?? Object.is,
      last: undefined,
      seeded: false,
      active: true,
    };
    if (current) this.#seed(sub, current);
    if (!view) {
      view = {
        id,
        subs: new Set(),
        version: current?.version ?? 0,
        watchedAt: 0,
        ended: false,
        early: current ? undefined : [],
      };
      this.#views.set(id, view);
      const v = view;
      void this.#sub
        .subscribe(this.#keys.view(id))
        .then(() => this.#watch(v, true))
        .catch((err) => this.#hooks.report(err, id));
    }
    view.subs.add(sub);
    return () => {
      if (!sub.active) return;
      sub.active = false;
      view.subs.delete(sub);
      if (view.subs.size === 0) this.#drop(view);
    };
  }

  /**
   * Watches again the views whose owner is not known to be live (it died: nobody told them), and,
   * as a safety net, every view not watched for `rewatchMs`.
   */
  rewatch(ownerLive: (id: string) => boolean): void {
    const now = performance.now();
    for (const v of this.#views.values())
      if (!v.ended && (!ownerLive(v.id) || now - v.watchedAt >= this.#rewatchMs))
        void this.#watch(v);
  }

  async #watch(view: View, first = false): Promise<void> {
    if (view.ended || this.#views.get(view.id) !== view) return;
    view.watchedAt = performance.now();
    try {
      const snap = await this.#hooks.watch(view.id);
      // The first answer is where the subscription starts (a local subscriber is not sent the
      // current snapshot either); a later one is a snapshot this view may have missed.
      // With a known starting snapshot (the caller saw one), a newer first answer is a change made
      // between `subscribe` and the owner's forwarding: delivered like any other.
      if (first && snap && view.early) {
        view.version = Math.max(view.version, snap.version);
        for (const sub of view.subs) if (!sub.seeded) this.#seed(sub, snap);
      } else if (snap) this.#deliver(view, snap);
      if (first) this.#release(view);
    } catch (err) {
      if (first) this.#release(view);
      const code = (err as { code?: string }).code;
      if (code === 'SESSION_NOT_FOUND') this.#end(view, 'terminated');
      else if (code !== 'CALL_TIMEOUT') this.#hooks.report(err, view.id);
    }
  }

  /** A message on a view channel of this node. */
  onMessage(channel: string, raw: string): void {
    const id = channel.slice(this.#keys.view('').length);
    const view = this.#views.get(id);
    if (!view) return;
    let msg: ViewWire;
    try {
      msg = JSON.parse(raw);
    } catch {
      return;
    }
    if (msg.k === 's') {
      this.#hooks.saw(id, msg.x);
      if (view.early) view.early.push(msg.x);
      else this.#deliver(view, msg.x);
    } else if (msg.k === 'e') {
      this.#end(view, msg.reason, msg.error);
    } else if (msg.k === 'm') {
      void this.#watch(view);
    }
  }

  /** Delivers what came before the first answer (what is newer than where the view starts). */
  #release(view: View): void {
    const early = view.early;
    view.early = undefined;
    if (early) for (const snap of early) this.#deliver(view, snap);
  }

  #seed(sub: ViewSub, snapshot: SessionSnapshot): void {
    sub.seeded = true;
    if (sub.select) sub.last = sub.select(snapshot);
  }

  #deliver(view: View, snapshot: SessionSnapshot): void {
    if (view.ended || snapshot.version <= view.version) return;
    view.version = snapshot.version;
    for (const sub of view.subs) {
      if (!sub.active) continue;
      sub.seeded = true;
      try {
        if (sub.select) {
          const selected = sub.select(snapshot);
          if (sub.equals(sub.last, selected)) continue;
          sub.last = selected;
          sub.listener({ type: 'snapshot', snapshot, version: snapshot.version, selected });
        } else {
          sub.listener({ type: 'snapshot', snapshot, version: snapshot.version });
        }
      } catch (err) {
        this.#hooks.report(err, view.id);
      }
    }
  }

  #end(view: View, reason: string, error?: string): void {
    if (view.ended) return;
    view.ended = true;
    const subs = [...view.subs];
    this.#drop(view);
    for (const sub of subs) {
      if (!sub.active) continue;
      sub.active = false;
      try {
        sub.listener(
          error === undefined
            ? { type: 'ended', reason: reason as 'terminated' }
            : { type: 'ended', reason: reason as 'crashed', error: { message: error } },
        );
      } catch (err) {
        this.#hooks.report(err, view.id);
      }
    }
  }

  #drop(view: View): void {
    if (this.#views.get(view.id) !== view) return;
    this.#views.delete(view.id);
    view.subs.clear();
    void this.#sub.unsubscribe(this.#keys.view(view.id)).catch(() => {});
  }

  /** Ends every view with `reason` (this node shuts down). */
  endAll(reason: 'shutdown'): void {
    for (const v of [...this.#views.values()]) this.#end(v, reason);
  }
}

/**
 * @internal The owner's side: forwards a local session's snapshots and its end to the session's
 * view channel while some node watches it.
 */
export class ViewForwarders {
  readonly #redis: Redis;
  readonly #keys: ClusterKeys;
  readonly #offs = new Map<string, () => void>();
  constructor(redis: Redis, keys: ClusterKeys) {
    this.#redis = redis;
    this.#keys = keys;
  }

  /** Starts forwarding `id` from `local` (no-op when it is forwarded already). */
  ensure(local: SessionSupervisor, id: string): void {
    if (this.#offs.has(id)) return;
    const channel = this.#keys.view(id);
    const off = local.subscribe(id, (msg) => {
      if (msg.type === 'snapshot') {
        const x = msg.snapshot;
        const wire = JSON.stringify({
          k: 's',
          x: { value: x.value, context: x.context, status: x.status, version: x.version },
        });
        void this.#redis.publish(channel, wire).then(
          (n) => {
            // Nobody watches any more: stop forwarding (a watcher re-watches when it comes back).
            if (n === 0) this.stop(id);
          },
          () => {},
        );
      } else {
        this.#offs.delete(id);
        const error = msg.error === undefined ? undefined : messageOf(msg.error);
        void this.#redis
          .publish(
            channel,
            JSON.stringify({ k: 'e', reason: msg.reason, ...(error ? { error } : {}) }),
          )
          .catch(() => {});
      }
    });
    this.#offs.set(id, off);
  }

  /** Publishes `snapshot` of `id` to its watchers now (the session just came to this node). */
  current(snapshot: SessionSnapshot, id: string): void {
    const x = snapshot;
    const wire = JSON.stringify({
      k: 's',
      x: { value: x.value, context: x.context, status: x.status, version: x.version },
    });
    void this.#redis.publish(this.#keys.view(id), wire).then(
      (n) => {
        if (n === 0) this.stop(id);
      },
      () => {},
    );
  }

  /**
   * Stops forwarding `id` (the session leaves this node, to run on another). With `notify`, the
   * watchers are told to watch again now, where the session goes.
   */
  stop(id: string, notify = false): void {
    const off = this.#offs.get(id);
    if (!off) return;
    this.#offs.delete(id);
    off();
    if (notify) this.moved([id]);
  }

  /** Stops forwarding every session; returns their IDs (for {@link moved} once they are free). */
  stopAll(): string[] {
    const ids = [...this.#offs.keys()];
    for (const id of ids) this.stop(id);
    return ids;
  }

  /** Tells the watchers of these sessions that they left this node: watch again. */
  moved(ids: readonly string[]): void {
    for (const id of ids) void this.#redis.publish(this.#keys.view(id), MOVED_WIRE).catch(() => {});
  }
}
