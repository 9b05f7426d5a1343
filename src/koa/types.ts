import type { EventObject } from 'xstate';
import type { CallOptions, SessionHandle, SessionSnapshot } from '../index.js';

/**
 * Options of {@link sessionProcess}.
 *
 * @example
 * ```ts
 * app.use(
 *   sessionProcess(sessions, {
 *     lazy: true,
 *     logic: (ctx) => (ctx.path.startsWith('/wizard') ? 'wizard' : 'cart'),
 *     input: (ctx) => ({ locale: ctx.acceptsLanguages('en', 'de') || 'en' }),
 *   }),
 * );
 * ```
 */
export interface SessionProcessOptions<TCtx = any> {
  /**
   * When `false`, every request ensures its session's process before the handler runs (a first
   * visit starts one and sets the cookie). When `true`, the process starts on first use (`call`,
   * `cast`, `rotate` or `ensure`), so requests that never touch it cost nothing and set no cookie;
   * in that mode `snapshot()` throws `SESSION_NOT_FOUND` until the process has started.
   * @default false
   */
  lazy?: boolean | undefined;
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
  /** Whether the process is running now (always, in the default eager mode, unless it just ended). */
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
   */
  cast<TEvent extends EventObject = EventObject>(event: TEvent): void;
  /** The process's current snapshot `{ value, context, status, version }`. */
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
