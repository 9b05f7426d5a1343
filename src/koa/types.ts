import type { EventObject } from 'xstate';
import type { CallOptions, SessionHandle, SessionSnapshot } from '../index.js';

/**
 * Options of {@link sessionProcess}.
 *
 * @example
 * ```ts
 * app.use(
 *   sessionProcess(sessions, {
 *     app, // checks app.keys now, at start-up
 *     logic: (ctx) => (ctx.path.startsWith('/wizard') ? 'wizard' : 'cart'),
 *     input: (ctx) => ({ locale: ctx.acceptsLanguages('en', 'de') || 'en' }),
 *     clientStartRate: { limit: 60, intervalMs: 60_000 },
 *   }),
 * );
 * ```
 */
export interface SessionProcessOptions<TCtx = any> {
  /**
   * When `true`, a process starts on first use (`call`, `cast`, `rotate` or `ensure`, not
   * `snapshot()`), so a request that never touches it (a crawler, a 404, an asset) starts nothing
   * and sets no cookie. When `false`, every request ensures its process before the handler runs.
   * @default true
   */
  lazy?: boolean | undefined;
  /**
   * The Koa app. Given, the middleware checks `app.keys` when it is created, so a missing or weak
   * signing key fails at start-up with a {@link SigningKeyError} that says what to set, instead
   * of failing every request. Without it the same check runs on the first request.
   * @default undefined (checked on the first request)
   */
  app?: { keys?: unknown; context?: object } | undefined;
  /**
   * Whether koa-session signs its cookie (koa-session's own `signed` option, `true` by default).
   * When it does, `app.keys` must hold keys of at least `minKeyLength` characters. Read from
   * koa-session itself where it can be (`ctx.sessionOptions.signed`).
   * @default true
   */
  signed?: boolean | undefined;
  /** Shortest accepted signing key, in characters (32 random base64 characters are 192 bits). @default 32 */
  minKeyLength?: number | undefined;
  /**
   * Session starts allowed per client address (see `clientKey`) per interval; beyond it `429`
   * `RATE_LIMITED` with `Retry-After`, while other addresses still get in. This is on top of the
   * supervisor's global `startRate` and `maxSessions`. At most `maxClients` addresses are tracked
   * (the oldest windows are forgotten first). `false` disables.
   * @default { limit: 60, intervalMs: 60_000, maxClients: 100_000 }
   */
  clientStartRate?: { limit: number; intervalMs: number; maxClients?: number } | false | undefined;
  /**
   * The client a start is counted against. The default, {@link clientAddress}, is the address the
   * trusted proxy hops saw (`X-Forwarded-For` read from the right, `app.maxIpsCount` hops, one
   * when unset) with `app.proxy = true`, the socket's peer otherwise, and an IPv6 address's /64.
   * Not Koa's `ctx.ip`, which is the leftmost forwarded entry: a value the client writes. Set
   * `app.proxy` behind a proxy, or every visitor shares the proxy's address and its budget.
   * @default (ctx) => clientAddress(ctx)
   * @example
   * ```ts
   * sessionProcess(sessions, { clientKey: (ctx) => clientAddress(ctx, { ipv6Prefix: 56 }) });
   * ```
   */
  clientKey?: ((ctx: TCtx) => string) | undefined;
  /**
   * The name (in the supervisor's `logics`) of the logic a new process starts with, or a function
   * of the request returning it. Only consulted when a process is started.
   * @default undefined (the supervisor's default `logic`)
   */
  logic?: string | ((ctx: TCtx) => string | undefined) | undefined;
  /**
   * The machine's `input` for a new process, from the request. Keep it JSON-serializable. Only
   * consulted when a process is started.
   * @default undefined (no input)
   */
  input?: ((ctx: TCtx) => unknown) | undefined;
  /**
   * What a request does when its cookie's session is stored but cannot be restored
   * (`SESSION_RESTORE_FAILED`: a corrupt record, a logic or a state the deployed machine no longer
   * has; the record is quarantined in the store) or, on a single node, was written by a newer
   * version of its logic (`SESSION_VERSION_AHEAD`; the record is left as it is). `'fresh'`: the
   * request goes on as one whose session ended: a fresh process under a new ID (a new cookie)
   * once the handler uses it, so the visitor is never stuck on an error. `'error'`: the request
   * fails with that error (500 or 503), for apps that would rather show their own page.
   * @default 'fresh'
   * @example
   * ```ts
   * app.use(sessionProcess(sessions, { app, onRestoreFailed: 'error' }));
   * ```
   */
  onRestoreFailed?: 'fresh' | 'error' | undefined;
}

/**
 * The request's view of its session process: `ctx.sessionProcess`.
 *
 * @example
 * ```ts
 * router.post('/cart/items', async (ctx) => {
 *   await ctx.sessionProcess.call({ type: 'cart.add', sku: ctx.request.body.sku });
 *   ctx.body = ctx.sessionProcess.snapshot().context.items;
 * });
 * ```
 */
export interface SessionProcessContext<TContext = any> {
  /**
   * The session ID. Kept in the koa-session session under `sessionId` once its process has started
   * (in lazy mode, before the first use, it is the ID the process will get).
   */
  readonly id: string;
  /** Whether the process is running now (in eager mode always, unless it just ended). */
  readonly started: boolean;
  /**
   * Sends `event` and waits for the machine's `reply` (see the core's `call`). Rejects with a
   * `SessionError` (`CALL_TIMEOUT` 504, `EVENT_NOT_ACCEPTED` 409, `SESSION_CRASHED` 500, ...), whose
   * `status` and `expose` Koa's error handling uses as they are.
   */
  call<T = unknown, TEvent extends EventObject = EventObject>(
    event: TEvent,
    options?: CallOptions<TContext>,
  ): Promise<T>;
  /**
   * Sends `event` without waiting. In lazy mode a first `cast` starts the process; the response
   * then waits for that start (and answers 429 or 503 if it is refused).
   *
   * Every member that reaches the process throws (or rejects with) `SESSION_ROTATED` (409,
   * `Retry-After: 0`) when the request carries an ID that another request just rotated away
   * (`rotate()` at login, in another tab): retry, the browser holds the new ID by then. Such a
   * request never reaches the rotated process and never starts a fresh one.
   */
  cast<TEvent extends EventObject = EventObject>(event: TEvent): void;
  /**
   * The process's current snapshot `{ value, context, status, version }`. In lazy mode it starts
   * nothing: it throws `SESSION_NOT_FOUND` until the process has started (use `ensure()` first).
   */
  snapshot(): SessionSnapshot<TContext>;
  /** The running process's handle, starting the process if needed (what lazy mode does on first use). */
  ensure(): Promise<SessionHandle<TContext>>;
  /**
   * Ends the process (subscribers get `ended` with reason `terminated`) and removes `sessionId`
   * from the session; a later use in the same request starts a fresh process under a new ID.
   */
  terminate(): Promise<void>;
  /**
   * Moves the process, state kept, to a new ID and stores it in the session (do it at login: a
   * session-fixation defence); afterwards the old ID reaches nothing. With an external koa-session
   * store the store key is regenerated too. Resolves with the new ID.
   */
  rotate(): Promise<string>;
}

declare module 'koa' {
  interface DefaultContext {
    /** The request's session process, set by `sessionProcess()` from `session-process/koa`. */
    sessionProcess: SessionProcessContext;
  }
}
