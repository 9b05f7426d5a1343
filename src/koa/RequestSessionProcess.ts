import { debuglog } from 'node:util';
import type { EventObject } from 'xstate';
import {
  type CallOptions,
  generateSessionId,
  isSessionError,
  RateLimitedError,
  type SessionHandle,
  SessionNotFoundError,
  SessionRotatedError,
  type SessionSnapshot,
  type SessionSupervisor,
} from '../index.js';
import type { ClientStartLimiter } from './ClientStartLimiter.js';
import type { Replacements } from './Replacements.js';
import { type KoaRefusal, koaRefusedChannel } from './telemetry.js';
import type { SessionProcessContext, SessionProcessOptions } from './types.js';

/** Where the ID lives in the koa-session session (DESIGN.md: `sessionId`). */
export const SESSION_KEY = 'sessionId';

const noop = () => {};
const debug = debuglog('session-process:koa');

/** @internal What every request of one middleware shares. */
export interface SharedState {
  readonly sessions: SessionSupervisor;
  readonly options: SessionProcessOptions;
  readonly limiter: ClientStartLimiter | undefined;
  readonly clientKey: (ctx: any) => string;
  /** Rotations in flight, by the ID being rotated away: a second one for that ID waits. */
  readonly rotations: Map<string, Promise<unknown>>;
  readonly replacements: Replacements;
}

/**
 * Whether `id` was rotated away a moment ago (the supervisor answers `SESSION_ROTATED` for it for
 * `rotatedIdTtlMs`; in a cluster, on every node).
 * @internal
 */
export async function wasRotated(sessions: SessionSupervisor, id: string): Promise<boolean> {
  return (await sessions.status(id)) === 'rotated';
}

/**
 * @internal One request's `ctx.sessionProcess`. A class (methods on the prototype) rather than
 * an object of closures: one is built per request, on the hot path the benchmark measures.
 *
 * Invariants:
 * - the koa-session session's `sessionId` only ever names a process that was started, so a stored
 *   ID whose process is not running has ended or was rotated away;
 * - an ID rotated away a moment ago (another tab's login) is answered `SESSION_ROTATED`: the
 *   request neither reaches the moved process (the fixation defence) nor starts a fresh one, and
 *   it leaves the session, hence the cookie, alone;
 * - an ID that ended (terminated, expired, crashed) never comes back: the requests carrying it
 *   get one fresh process under a fresh ID, shared by those that race (see {@link Replacements}).
 */
export class RequestSessionProcess<TContext = any> implements SessionProcessContext<TContext> {
  readonly #ctx: any;
  readonly #shared: SharedState;
  /** The ID: stored and live, or minted for a process about to start. */
  #id: string | undefined;
  /** Whether `#id` names a process that was started (it may have ended since). */
  #owned: boolean;
  /** The ID this request carried (or used) that has ended: its fresh process is shared. */
  #deadId: string | undefined;
  /** The ID this request carried, rotated away by another request: everything answers 409. */
  #rotatedId: string | undefined;
  /** Whether this request started the process it now holds (undone if the request fails). */
  #created = false;
  #starting: Promise<SessionHandle<TContext>> | undefined;
  /** Lazy-mode casts waiting for the start; the middleware awaits them before answering. */
  #pending: Promise<void>[] | undefined;

  constructor(
    ctx: any,
    shared: SharedState,
    liveId: string | undefined,
    deadId: string | undefined,
    rotatedId: string | undefined,
  ) {
    this.#ctx = ctx;
    this.#shared = shared;
    this.#id = liveId;
    this.#owned = liveId !== undefined;
    this.#deadId = deadId;
    this.#rotatedId = rotatedId;
  }

  get id(): string {
    if (this.#rotatedId !== undefined) return this.#rotatedId;
    if (this.#id === undefined) {
      // A browser whose ID ended: the fresh process its concurrent requests share, if any.
      const deadId = this.#deadId;
      const shared = deadId === undefined ? undefined : this.#shared.replacements.find(deadId);
      this.#id = shared?.id ?? generateSessionId();
    }
    return this.#id;
  }

  get started(): boolean {
    return this.#owned && this.#shared.sessions.started(this.#id!);
  }

  /** @internal Whether this request carries an ID another request rotated away. */
  get rotated(): boolean {
    return this.#rotatedId !== undefined;
  }

  /**
   * @internal Whether the live ID this request started with was rotated away by another request
   * while this one ran (a login in another tab). Its response must then not write the old ID back
   * into the cookie: koa-session's `rolling` and `renew` would, logging the browser out.
   */
  lostToRotation(liveId: string): boolean | Promise<boolean> {
    if (this.#rotatedId !== undefined) return true;
    if (this.#id !== liveId || this.#shared.sessions.started(liveId)) return false;
    return wasRotated(this.#shared.sessions, liveId);
  }

  ensure(): Promise<SessionHandle<TContext>> {
    if (this.started) {
      const handle = this.#shared.sessions.get<TContext>(this.#id!);
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
    const sessions = this.#shared.sessions;
    if (this.started) return sessions.call<T, TContext>(this.#id!, event, options);
    return this.ensure().then((handle) => sessions.call<T, TContext>(handle.id, event, options));
  }

  cast<TEvent extends EventObject = EventObject>(event: TEvent): void {
    const sessions = this.#shared.sessions;
    if (this.started) {
      sessions.cast(this.#id!, event);
      return;
    }
    if (this.#rotatedId !== undefined) throw new SessionRotatedError(this.#rotatedId);
    // Casts queued on the same start promise run in the order they were made.
    const sent = this.ensure().then((handle) => sessions.cast(handle.id, event));
    sent.catch(noop); // surfaced by settle(), never as an unhandled rejection
    (this.#pending ??= []).push(sent);
  }

  snapshot(): SessionSnapshot<TContext> {
    if (this.#rotatedId !== undefined) throw new SessionRotatedError(this.#rotatedId);
    // Not started (lazy mode): nothing to read, and reading starts nothing.
    if (!this.#owned) throw new SessionNotFoundError(this.#id ?? '(none yet)');
    return this.#shared.sessions.snapshot<TContext>(this.#id!);
  }

  async terminate(): Promise<void> {
    if (this.#rotatedId !== undefined) throw new SessionRotatedError(this.#rotatedId);
    if (this.#starting) await this.#starting.catch(noop);
    const id = this.#id;
    const owned = this.#owned;
    this.#id = undefined;
    this.#owned = false;
    this.#created = false;
    const session = this.#ctx.session;
    if (session && session[SESSION_KEY] === id) delete session[SESSION_KEY];
    if (!owned || id === undefined) return;
    // Requests of this browser that still carry the ID share one fresh process from now on.
    this.#deadId = id;
    try {
      await this.#shared.sessions.terminate(id);
    } catch (err) {
      // Already gone (it ended on its own meanwhile): the outcome the caller asked for.
      if (!isSessionError(err, 'SESSION_NOT_FOUND')) throw err;
    }
  }

  async rotate(): Promise<string> {
    if (this.#rotatedId !== undefined) throw new SessionRotatedError(this.#rotatedId);
    const { rotations } = this.#shared;
    // One rotation per ID at a time within this process: a second one (a double-clicked login)
    // waits, then finds the ID moved and answers SESSION_ROTATED instead of stranding the state.
    let inFlight = this.#id === undefined ? undefined : rotations.get(this.#id);
    while (inFlight !== undefined) {
      await inFlight.catch(noop);
      inFlight = rotations.get(this.#id!);
    }
    if (!this.started) {
      // Nothing live to move: the process starts under a fresh ID, which is what rotate promises
      // (or, for an ID that was just rotated away, the start refuses with SESSION_ROTATED).
      return (await this.ensure()).id;
    }
    const oldId = this.#id!;
    const moving = this.#move(oldId);
    rotations.set(oldId, moving);
    try {
      return await moving;
    } finally {
      if (rotations.get(oldId) === moving) rotations.delete(oldId);
    }
  }

  async #move(oldId: string): Promise<string> {
    const newId = generateSessionId();
    await this.#shared.sessions.rename(oldId, newId);
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
    if (!this.#owned) return this.#deadId !== undefined;
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
   * handler replaced (`ctx.session = { ... }`) keeps naming the live process; a request that ended
   * its process (`terminate()`) while a concurrent one of the same browser already started the
   * shared fresh process stores that one, so the two responses do not set different cookies.
   */
  async finish(): Promise<void> {
    const session = this.#ctx.session;
    if (!this.#owned) {
      if (!session || this.#deadId === undefined || session[SESSION_KEY] !== undefined) return;
      const next = this.#shared.replacements.live(this.#deadId, this.#shared.sessions);
      if (next !== undefined) session[SESSION_KEY] = next;
      return;
    }
    if (session === null) {
      await this.terminate();
      return;
    }
    if (session && session[SESSION_KEY] !== this.#id && this.started)
      session[SESSION_KEY] = this.#id;
  }

  /**
   * @internal The request failed: a process it started itself goes (a failed first request leaves
   * nothing behind), and the session forgets its ID.
   */
  async abandon(): Promise<void> {
    if (this.#starting) await this.#starting.catch(noop);
    if (!this.#created || !this.#owned) return;
    const id = this.#id!;
    debug('request failed: ending the process %s it started', id);
    this.#created = false;
    this.#owned = false;
    this.#id = undefined;
    this.#shared.replacements.forget(id);
    const session = this.#ctx.session;
    if (session && session[SESSION_KEY] === id) delete session[SESSION_KEY];
    try {
      await this.#shared.sessions.terminate(id);
    } catch (err) {
      if (!isSessionError(err, 'SESSION_NOT_FOUND')) throw err;
    }
  }

  async #start(): Promise<SessionHandle<TContext>> {
    const shared = this.#shared;
    const sessions = shared.sessions;
    if (this.#rotatedId !== undefined) throw new SessionRotatedError(this.#rotatedId);
    if (this.#owned) {
      // Our process is gone during this request. Moved by a concurrent request (a login in
      // another tab): a retryable refusal, never a fresh empty session under a new cookie.
      if (await wasRotated(sessions, this.#id!)) {
        debug('session %s rotated away during this request: SESSION_ROTATED', this.#id);
        this.#rotatedId = this.#id;
        throw new SessionRotatedError(this.#id!);
      }
      // It ended: a fresh process, under a fresh ID, shared with this browser's other requests.
      this.#deadId = this.#id;
      this.#id = undefined;
      this.#owned = false;
    }
    const deadId = this.#deadId;
    if (deadId !== undefined) {
      const found = shared.replacements.find(deadId);
      if (found !== undefined && (this.#id === undefined || this.#id === found.id)) {
        this.#id = found.id;
        const joined = await found.starting.then(
          (handle) => sessions.get<TContext>(handle.id),
          () => undefined, // refused or failed: this request tries a start of its own
        );
        if (this.#id === found.id) {
          if (joined !== undefined) {
            debug('ended session %s: joined its fresh process %s', deadId, found.id);
            return this.#adopt(joined, false);
          }
          this.#id = undefined;
        }
      }
    }
    const ctx = this.#ctx;
    if (shared.limiter) {
      const client = shared.clientKey(ctx);
      const { limit, intervalMs } = shared.limiter;
      // A cluster counts each client's starts in one window for every node (in Redis): a client
      // spreading its requests over the nodes gets the limit once, not once per node.
      const wait = sessions.takeClientStart
        ? await sessions.takeClientStart(client, limit, intervalMs)
        : shared.limiter.take(client, Date.now());
      if (wait > 0) {
        debug('client %s over clientStartRate: refused for %d ms', client, wait);
        if (koaRefusedChannel.hasSubscribers) {
          const refusal: KoaRefusal = {
            supervisor: sessions,
            reason: 'client_rate_limited',
            client,
            retryAfterMs: wait,
          };
          koaRefusedChannel.publish(refusal);
        }
        throw new RateLimitedError(shared.limiter.limit, shared.limiter.intervalMs, wait);
      }
    }
    const id = (this.#id ??= generateSessionId());
    const { logic, input } = shared.options;
    const starting = sessions.start<TContext>(id, {
      logic: typeof logic === 'function' ? logic(ctx) : logic,
      input: input?.(ctx),
    });
    if (deadId !== undefined) shared.replacements.offer(deadId, id, starting);
    const handle = await starting;
    if (this.#id !== id) return handle;
    return this.#adopt(handle, true);
  }

  #adopt(handle: SessionHandle<TContext>, created: boolean): SessionHandle<TContext> {
    this.#id = handle.id;
    this.#owned = true;
    this.#created = created;
    const session = this.#ctx.session;
    if (session) session[SESSION_KEY] = handle.id;
    return handle;
  }
}
