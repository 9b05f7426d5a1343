import { debuglog } from 'node:util';
import type { Context, Middleware, Next } from 'koa';
import { isSessionError, isValidSessionId, type SessionSupervisor } from '../index.js';
import { ClientStartLimiter } from './ClientStartLimiter.js';
import { clientAddress } from './clientAddress.js';
import { Replacements } from './Replacements.js';
import { RequestSessionProcess, SESSION_KEY, type SharedState } from './RequestSessionProcess.js';
import { withRetryAfter } from './retryAfter.js';
import { assertSigningKeys } from './SigningKeyError.js';
import type { SessionProcessOptions } from './types.js';

const noop = () => {};
const debug = debuglog('session-process:koa');

/**
 * Koa middleware that ties each HTTP session to its own session process. Place it after
 * koa-session 7: the session ID (192 bits from the CSPRNG, base64url) is kept in the koa-session
 * session under `sessionId`, so it works with cookie sessions and external stores alike.
 *
 * - Lazy by default: a process starts when a handler first uses `ctx.sessionProcess`, so traffic
 *   that never does (crawlers, 404s, assets) starts nothing and gets no cookie. `lazy: false`
 *   ensures the process before every handler instead.
 * - Signing keys are checked once: with `{ app }` when the middleware is created, otherwise on the
 *   first request. Missing or short `app.keys` throw a `SigningKeyError` that says what to set.
 * - A stored ID whose session was passivated to the supervisor's store is restored (awaited only
 *   then, for stores that load asynchronously).
 * - A stored ID that is invalid, unknown or whose process has ended gets a fresh ID and a fresh
 *   process (one, shared by the browser's concurrent requests): never a 500, never a restart under
 *   the old ID. So does, by default (`onRestoreFailed: 'fresh'`), an ID whose stored session
 *   cannot be restored (`SESSION_RESTORE_FAILED`, quarantined in the store) or, on a single node,
 *   was written by a newer version of its logic (`SESSION_VERSION_AHEAD`, left as it is): its
 *   fresh process starts in that request, lazy mode or not, so that the new cookie names a
 *   running session (the live views refused with `4410 SESSION_REPLACED` reconnect to it).
 * - An ID that another request just rotated away (`rotate()` at login in another tab) answers
 *   `409 SESSION_ROTATED` with `Retry-After: 0` and no cookie, once the handler uses it.
 * - A refused start answers `503` (`SESSION_LIMIT_REACHED`) or `429` (`RATE_LIMITED`: the
 *   supervisor's `startRate`, or this client address's `clientStartRate`) with `Retry-After` in
 *   seconds; other `SessionError`s carry their own `status` and `expose`.
 * - A request that fails (the handler throws) and had started its process ends that process and
 *   stores no ID: nothing is left behind.
 * - `ctx.session = null` in the handler terminates the process after the handler returns.
 *
 * The handler reaches the process through `ctx.sessionProcess` (see `SessionProcessContext`).
 *
 * @example
 * ```ts
 * import Koa from 'koa';
 * import session from 'koa-session';
 * import { createSessionSupervisor } from 'session-process';
 * import { sessionProcess } from 'session-process/koa';
 * import { cartMachine } from './machines/cart.js';
 *
 * const app = new Koa();
 * app.keys = process.env.COOKIE_SECRET!.split(','); // 32+ characters each, newest first
 * const sessions = createSessionSupervisor({ logic: cartMachine });
 * app.use(session({ key: 'sid', maxAge: 86_400_000, httpOnly: true, sameSite: 'lax' }, app));
 * app.use(sessionProcess(sessions, { app }));
 * app.use(async (ctx) => {
 *   await ctx.sessionProcess.call({ type: 'cart.add', sku: 'A1' }, { until: () => true });
 *   ctx.body = ctx.sessionProcess.snapshot().context.items;
 * });
 * ```
 */
export function sessionProcess<TCtx extends Context = Context>(
  sessions: SessionSupervisor,
  options: SessionProcessOptions<TCtx> = {},
): Middleware {
  const lazy = options.lazy ?? true;
  const onRestoreFailed = options.onRestoreFailed ?? 'fresh';
  if (onRestoreFailed !== 'fresh' && onRestoreFailed !== 'error')
    throw new TypeError(
      `sessionProcess: onRestoreFailed must be 'fresh' or 'error', got ${String(onRestoreFailed)}`,
    );
  /** Whether a request whose stored session failed to come back with `err` goes on afresh. */
  const replaceable = (err: unknown): boolean =>
    onRestoreFailed === 'fresh' &&
    (isSessionError(err, 'SESSION_RESTORE_FAILED') ||
      // Written by a newer version than any live node holds (a rollback): the record stays for
      // the code that wrote it. In a cluster, while a node that holds that version is alive (it
      // did not answer in time), the error says when to retry instead: 503 with Retry-After.
      (isSessionError(err, 'SESSION_VERSION_AHEAD') && !hasRetryAfter(err)));
  const minKeyLength = options.minKeyLength ?? 32;
  const rate =
    options.clientStartRate === undefined
      ? { limit: 60, intervalMs: 60_000 }
      : options.clientStartRate;
  const shared: SharedState = {
    sessions,
    options: options as SessionProcessOptions,
    limiter:
      rate === false
        ? undefined
        : new ClientStartLimiter(rate.limit, rate.intervalMs, rate.maxClients ?? 100_000),
    clientKey:
      (options.clientKey as SharedState['clientKey']) ?? ((ctx: Context) => clientAddress(ctx)),
    rotations: new Map(),
    replacements: new Replacements(),
  };
  /** Apps whose keys passed the check (one middleware may serve more than one app). */
  const checked = new WeakSet<object>();
  const app = options.app;
  if (app !== undefined) {
    if (options.signed ?? signedOf(app) ?? true) assertSigningKeys(app.keys, minKeyLength);
    checked.add(app);
  }

  /**
   * Everything after the handler (and after a failure), for the requests that need any of it:
   * lazy-mode casts to settle, a process to end on failure, `ctx.session` changes to apply, and
   * the cookie to keep when another request rotated the ID away meanwhile.
   */
  async function settleRequest(
    ctx: Context,
    requestProcess: RequestSessionProcess,
    carried: string | undefined,
    failure: { error: unknown } | undefined,
  ): Promise<void> {
    try {
      if (failure !== undefined) throw failure.error;
      if (requestProcess.pending) await requestProcess.settle();
    } catch (err) {
      await requestProcess.abandon().catch(noop);
      throw withRetryAfter(err);
    } finally {
      if (requestProcess.needsFinish()) await requestProcess.finish();
      if (carried !== undefined) {
        const lost = requestProcess.lostToRotation(carried);
        if (lost !== false && (await lost)) keepCookie(ctx);
      }
    }
  }

  /** A request whose stored ID is not in this process's memory (or is none): `status` decides. */
  async function lookUp(ctx: Context, next: Next, stored: unknown): Promise<void> {
    let liveId: string | undefined;
    let deadId: string | undefined;
    let rotatedId: string | undefined;
    /** The stored ID whose session cannot be restored (see `onRestoreFailed`). */
    let replacedId: string | undefined;
    // Validated before any lookup: a store or a decoded cookie may hold anything.
    if (isValidSessionId(stored)) {
      // `status` changes nothing. On a cluster node a session running elsewhere answers
      // `running` with its owner's current snapshot, which the handler's `snapshot()` then reads.
      const where = await sessions.status(stored);
      if (where === 'running' || where === 'stored') {
        // Stored: brought back (on its owner, in a cluster) before the handler reads it.
        try {
          if (await live(sessions, stored, where)) liveId = stored;
          else if ((await sessions.status(stored)) === 'rotated') rotatedId = stored;
          else deadId = stored;
        } catch (err) {
          // A newer version's record while a node holding it is alive: 503 with Retry-After.
          if (!replaceable(err)) throw withRetryAfter(err);
          deadId = replacedId = replaced(stored, err);
        }
      } else if (where === 'rotated') rotatedId = stored;
      else deadId = stored;
    }
    const requestProcess = new RequestSessionProcess(ctx, shared, liveId, deadId, rotatedId);
    ctx.sessionProcess = requestProcess;
    const carried = liveId ?? rotatedId;
    try {
      if (!lazy && liveId === undefined) await requestProcess.ensure();
      // A visitor whose session could not come back gets its fresh one now, lazy or not: the
      // cookie then names a running session, which its open live views reconnect to. A refused
      // start (a limit) is the handler's to meet, if it uses the session at all.
      else if (replacedId !== undefined) await requestProcess.ensure().catch(noop);
      await next();
    } catch (error) {
      return settleRequest(ctx, requestProcess, carried, { error });
    }
    return settleRequest(ctx, requestProcess, carried, undefined);
  }

  // Not an async function: the common request (its ID live in this process's memory, nothing
  // queued, the session left alone) makes one promise here, the `then` after `next()`, and awaits
  // nothing else. Each promise or await more is a microtask on every request (bench/http).
  // Its errors are rejections, never synchronous throws, as from the async function it was.
  return function sessionProcessMiddleware(ctx, next) {
    const session = ctx.session;
    if (session === undefined) {
      return Promise.reject(
        new TypeError('sessionProcess() needs koa-session before it: ctx.session is undefined'),
      );
    }
    if (!checked.has(ctx.app)) {
      const signed =
        options.signed ?? (ctx as { sessionOptions?: { signed?: unknown } }).sessionOptions?.signed;
      try {
        if (signed !== false) assertSigningKeys(ctx.app.keys, minKeyLength);
      } catch (err) {
        return Promise.reject(err);
      }
      checked.add(ctx.app);
    }
    const stored: unknown = session?.[SESSION_KEY];
    // In memory here: touched, as `status` ('running') and `touch` would, without their promises.
    if (typeof stored !== 'string' || sessions.touchResident?.(stored) !== true)
      return lookUp(ctx, next, stored);
    const requestProcess = new RequestSessionProcess(ctx, shared, stored, undefined, undefined);
    ctx.sessionProcess = requestProcess;
    return next().then(
      () => {
        if (requestProcess.pending || requestProcess.needsFinish())
          return settleRequest(ctx, requestProcess, stored, undefined);
        const lost = requestProcess.lostToRotation(stored);
        if (lost === false) return;
        if (lost === true) keepCookie(ctx);
        else return lost.then((yes) => void (yes && keepCookie(ctx)));
      },
      (error: unknown) => settleRequest(ctx, requestProcess, stored, { error }),
    );
  };
}

/**
 * A stored session that cannot come back: the request goes on as one whose session ended (a
 * fresh process under a new ID, shared with the browser's concurrent requests). The core reported
 * the record when it quarantined it; a newer version's record stays as it is.
 */
function replaced(id: string, err: unknown): string {
  debug(
    'session %s cannot be restored (%s): the request goes on afresh',
    id,
    (err as Error).message,
  );
  return id;
}

/**
 * Touches a session `status` found (restoring a stored one first); whether it is still there: it
 * may have ended, or been rotated away, in between.
 */
async function live(
  sessions: SessionSupervisor,
  id: string,
  where: 'running' | 'stored',
): Promise<boolean> {
  if (where === 'running' && sessions.touch(id)) return true;
  try {
    return (await sessions.restore(id)) && sessions.touch(id);
  } catch (err) {
    if (isSessionError(err, 'SESSION_ROTATED')) return false;
    throw err;
  }
}

function hasRetryAfter(err: unknown): boolean {
  return typeof (err as { retryAfterMs?: unknown }).retryAfterMs === 'number';
}

/**
 * Keeps koa-session from re-sending this request's (stale) cookie: `rolling` and `renew` would
 * write the ID another tab just rotated away over the browser's new cookie. The options object is
 * koa-session's per-request copy (`ctx.sessionOptions`), so other requests are not affected.
 */
function keepCookie(ctx: Context): void {
  const opts = (ctx as { sessionOptions?: { rolling?: boolean; renew?: boolean } }).sessionOptions;
  if (opts) {
    opts.rolling = false;
    opts.renew = false;
  }
}

/**
 * koa-session's `signed` option for `app`, read through its public `ctx.sessionOptions` on a bare
 * context (koa-session installs that getter on `app.context` when `session(opts, app)` is called);
 * `undefined` when koa-session is not installed on the app yet.
 */
function signedOf(app: { context?: object }): boolean | undefined {
  if (app.context === undefined) return undefined;
  try {
    const probe = Object.create(app.context) as { sessionOptions?: { signed?: unknown } };
    const signed = probe.sessionOptions?.signed;
    return typeof signed === 'boolean' ? signed : undefined;
  } catch {
    return undefined;
  }
}
