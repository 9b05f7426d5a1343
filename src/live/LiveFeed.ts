import type { SessionMessage, SessionSnapshot, SessionSupervisor } from '../index.js';
import type { LiveConnection } from './LiveConnection.js';
import { encodeMessage } from './protocol.js';

/** What a feed needs from its bridge. @internal */
export interface FeedContext {
  readonly sessions: SessionSupervisor;
  readonly view: (snapshot: SessionSnapshot) => unknown;
  report(error: unknown, sessionId: string): void;
  /** Called once, when the feed has no views left or its session ended. */
  closed(feed: LiveFeed): void;
}

/**
 * One subscription per session, shared by all of its live views: the view function runs and the
 * frame is serialized once per snapshot, however many tabs follow the session.
 * @internal
 */
export class LiveFeed {
  readonly sessionId: string;
  readonly views = new Set<LiveConnection>();
  readonly #ctx: FeedContext;
  readonly #unsubscribe: () => void;
  #frame: string | undefined;
  #version = 0;
  #done = false;

  /** Subscribes to the session; throws the core's error when it is not running. */
  constructor(sessionId: string, ctx: FeedContext) {
    this.sessionId = sessionId;
    this.#ctx = ctx;
    // `subscribe` does not replay the current snapshot; both calls are synchronous, so reading it
    // right after subscribing misses nothing.
    this.#unsubscribe = ctx.sessions.subscribe(sessionId, (msg) => this.#onMessage(msg));
    try {
      this.#render(ctx.sessions.snapshot(sessionId));
    } catch (err) {
      this.#unsubscribe();
      throw err;
    }
  }

  /** Adds a view and sends it the current snapshot: always its first message. */
  add(view: LiveConnection): void {
    this.views.add(view);
    if (this.#frame !== undefined) view.offerSnapshot(this.#frame, this.#version);
    // The view function failed on the current snapshot: say so rather than stay silent; the
    // next change is tried again.
    else view.notify('INTERNAL_ERROR', 'The current state could not be rendered for this view');
  }

  remove(view: LiveConnection): void {
    this.views.delete(view);
    if (this.views.size === 0) this.#close();
  }

  #onMessage(msg: SessionMessage): void {
    if (this.#done) return;
    if (msg.type === 'snapshot') {
      if (!this.#render(msg.snapshot)) return;
      const frame = this.#frame!;
      for (const view of this.views) view.offerSnapshot(frame, this.#version);
      return;
    }
    const views = [...this.views];
    this.views.clear();
    this.#close();
    for (const view of views) view.end(msg.reason);
  }

  #render(snapshot: SessionSnapshot): boolean {
    try {
      const view = this.#ctx.view(snapshot);
      this.#frame = encodeMessage({
        type: 'snapshot',
        version: snapshot.version,
        value: snapshot.value,
        view: view === undefined ? null : view,
      });
      this.#version = snapshot.version;
      return true;
    } catch (err) {
      // A view that throws or is not serializable must not take the bridge down: this version
      // is skipped, the next one is tried again. A view joining meanwhile is told, not handed
      // the older frame as if it were current.
      this.#frame = undefined;
      this.#ctx.report(err, this.sessionId);
      return false;
    }
  }

  #close(): void {
    if (this.#done) return;
    this.#done = true;
    this.#frame = undefined;
    try {
      this.#unsubscribe();
    } catch (err) {
      this.#ctx.report(err, this.sessionId);
    }
    this.#ctx.closed(this);
  }
}
