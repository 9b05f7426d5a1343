import type { EventObject } from 'xstate';
import {
  type CallOptions,
  generateSessionId,
  isSessionError,
  type SessionHandle,
  type SessionSnapshot,
  type SessionSupervisor,
} from '../index.js';
import type { SessionProcessContext, SessionProcessOptions } from './types.js';

/** Where the ID lives in the koa-session session (DESIGN.md: `sessionId`). */
export const SESSION_KEY = 'sessionId';

const noop = () => {};

/**
 * @internal One request's `ctx.sessionProcess`. A class (methods on the prototype) rather than
 * an object of closures: one is built per request, on the hot path the benchmark measures.
 *
 * Invariant: the koa-session session's `sessionId` only ever names a process that was started.
 * So a stored ID whose process is not running has ended (or was never ours): the request gets a
 * fresh ID, and an ID that ended (terminated, expired, crashed, rotated away) never comes back.
 */
export class RequestSessionProcess<TContext = any> implements SessionProcessContext<TContext> {
  readonly #ctx: any;
  readonly #sessions: SessionSupervisor;
  readonly #options: SessionProcessOptions;
  /** The ID: stored and live, or minted for a process about to start. */
  #id: string | undefined;
  /** Whether `#id` names a process that was started (it may have ended since). */
  #owned: boolean;
  #starting: Promise<SessionHandle<TContext>> | undefined;
  /** Lazy-mode casts waiting for the start; the middleware awaits them before answering. */
  #pending: Promise<void>[] | undefined;

  constructor(
    ctx: any,
    sessions: SessionSupervisor,
    options: SessionProcessOptions,
    liveId: string | undefined,
  ) {
    this.#ctx = ctx;
    this.#sessions = sessions;
    this.#options = options;
    this.#id = liveId;
    this.#owned = liveId !== undefined;
  }

  get id(): string {
    if (this.#id === undefined) this.#id = generateSessionId();
    return this.#id;
  }

  get started(): boolean {
    return this.#owned && this.#sessions.started(this.#id!);
  }

  ensure(): Promise<SessionHandle<TContext>> {
    if (this.started) {
      const handle = this.#sessions.get<TContext>(this.#id!);
      if (handle) return Promise.resolve(handle);
    }
    if (this.#starting === undefined) {
      this.#starting = this.#start();
      this.#starting.then(
        () => (this.#starting = undefined),
        () => (this.#starting = undefined),
      );
    }
    return this.#starting;
  }

  call<T = unknown, TEvent extends EventObject = EventObject>(
    event: TEvent,
    options?: CallOptions<TContext>,
  ): Promise<T> {
    if (this.started) return this.#sessions.call<T, TContext>(this.#id!, event, options);
    return this.ensure().then((handle) =>
      this.#sessions.call<T, TContext>(handle.id, event, options),
    );
  }

  cast<TEvent extends EventObject = EventObject>(event: TEvent): void {
    if (this.started) {
      this.#sessions.cast(this.#id!, event);
      return;
    }
    // Casts queued on the same start promise run in the order they were made.
    const sent = this.ensure().then((handle) => this.#sessions.cast(handle.id, event));
    sent.catch(noop); // surfaced by settle(), never as an unhandled rejection
    (this.#pending ??= []).push(sent);
  }

  snapshot(): SessionSnapshot<TContext> {
    return this.#sessions.snapshot<TContext>(this.id);
  }

  async terminate(): Promise<void> {
    if (this.#starting) await this.#starting.catch(noop);
    const id = this.#id;
    const owned = this.#owned;
    this.#id = undefined;
    this.#owned = false;
    const session = this.#ctx.session;
    if (session && session[SESSION_KEY] === id) delete session[SESSION_KEY];
    if (!owned || id === undefined) return;
    try {
      await this.#sessions.terminate(id);
    } catch (err) {
      // Already gone (it ended on its own meanwhile): the outcome the caller asked for.
      if (!isSessionError(err, 'SESSION_NOT_FOUND')) throw err;
    }
  }

  async rotate(): Promise<string> {
    if (!this.started) {
      // Nothing live to move: the process starts under a fresh ID, which is what rotate promises.
      return (await this.ensure()).id;
    }
    const oldId = this.#id!;
    const newId = generateSessionId();
    await this.#sessions.rename(oldId, newId);
    this.#id = newId;
    const session = this.#ctx.session;
    if (session) {
      session[SESSION_KEY] = newId;
      // With an external store the cookie holds the store key, not the data: a fixated cookie
      // would still reach the new ID through it, so the key is regenerated as well.
      if (typeof session.externalKey === 'string' && typeof session.regenerate === 'function') {
        await session.regenerate();
      }
    }
    return newId;
  }

  /** @internal Whether lazy-mode casts wait for their start. */
  get pending(): boolean {
    return this.#pending !== undefined;
  }

  /** @internal Whether {@link finish} has anything to do. */
  needsFinish(): boolean {
    if (!this.#owned) return false;
    const session = this.#ctx.session;
    return session === null || (session !== undefined && session[SESSION_KEY] !== this.#id);
  }

  /** @internal Waits for lazy-mode casts; rejects with the first failure (a refused start). */
  async settle(): Promise<void> {
    const pending = this.#pending;
    if (pending === undefined) return;
    this.#pending = undefined;
    await Promise.all(pending);
  }

  /**
   * @internal After the handler: `ctx.session = null` ends the process; a session object the
   * handler replaced (`ctx.session = { ... }`) keeps naming the live process.
   */
  async finish(): Promise<void> {
    if (!this.#owned) return;
    const session = this.#ctx.session;
    if (session === null) {
      await this.terminate();
      return;
    }
    if (session && session[SESSION_KEY] !== this.#id && this.started)
      session[SESSION_KEY] = this.#id;
  }

  async #start(): Promise<SessionHandle<TContext>> {
    if (this.#owned) {
      // Our process ended during this request: a fresh process, under a fresh ID.
      this.#id = undefined;
      this.#owned = false;
    }
    const id = this.id;
    const ctx = this.#ctx;
    const { logic, input } = this.#options;
    const handle = await this.#sessions.start<TContext>(id, {
      logic: typeof logic === 'function' ? logic(ctx) : logic,
      input: input?.(ctx),
    });
    if (this.#id === id) {
      this.#owned = true;
      const session = ctx.session;
      if (session) session[SESSION_KEY] = id;
    }
    return handle;
  }
}
