import type { Context, Middleware } from 'koa';
import { isValidSessionId, type SessionSupervisor } from '../index.js';
import { RequestSessionProcess, SESSION_KEY } from './RequestSessionProcess.js';
import { withRetryAfter } from './retryAfter.js';
import type { SessionProcessOptions } from './types.js';

/**
 * Koa middleware that ties each HTTP session to its own session process. Place it after
 * koa-session 7: the session ID (192 bits from the CSPRNG, base64url) is kept in the koa-session
 * session under `sessionId`, so it works with cookie sessions and external stores alike.
 *
 * - By default each request ensures its process before the handler runs (`lazy: true` starts it
 *   on first use) and counts as activity for the supervisor's `idleTimeoutMs`.
 * - A stored ID that is invalid, unknown or whose process has ended (terminated, expired,
 *   crashed, rotated away) gets a fresh ID and a fresh process: never a 500, never a restart
 *   under the old ID.
 * - A refused start answers `503` (`SESSION_LIMIT_REACHED`) or `429` (`RATE_LIMITED`) with
 *   `Retry-After` in seconds; other `SessionError`s carry their own `status` and `expose`.
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
 * app.keys = [process.env.COOKIE_SECRET!];
 * const sessions = createSessionSupervisor({ logic: cartMachine });
 * app.use(session({ key: 'sid', maxAge: 86_400_000, httpOnly: true, sameSite: 'lax' }, app));
 * app.use(sessionProcess(sessions));
 * app.use(async (ctx) => {
 *   await ctx.sessionProcess.call({ type: 'cart.add', sku: 'A1' });
 *   ctx.body = ctx.sessionProcess.snapshot().context.items;
 * });
 * ```
 */
export function sessionProcess<TCtx extends Context = Context>(
  sessions: SessionSupervisor,
  options: SessionProcessOptions<TCtx> = {},
): Middleware {
  const lazy = options.lazy ?? false;
  return async function sessionProcessMiddleware(ctx, next) {
    const session = ctx.session;
    if (session === undefined) {
      throw new TypeError('sessionProcess() needs koa-session before it: ctx.session is undefined');
    }
    const stored: unknown = session?.[SESSION_KEY];
    // Validated before any lookup: a store or a decoded cookie may hold anything.
    const liveId = isValidSessionId(stored) && sessions.touch(stored) ? stored : undefined;
    const requestProcess = new RequestSessionProcess(
      ctx,
      sessions,
      options as SessionProcessOptions,
      liveId,
    );
    ctx.sessionProcess = requestProcess;
    // The common request (a live ID, nothing queued, the session left alone) awaits nothing
    // beyond `next()`: each extra await is a microtask on every request (see bench/http).
    try {
      if (!lazy && liveId === undefined) await requestProcess.ensure();
      await next();
      if (requestProcess.pending) await requestProcess.settle();
    } catch (err) {
      throw withRetryAfter(err);
    } finally {
      if (requestProcess.needsFinish()) await requestProcess.finish();
    }
  };
}
