import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { bundleChild, removeBundles } from '../support/bundleChild.js';

/**
 * The promises and promise reactions (microtask hops: an await's continuation, a `then` callback)
 * that `sessionProcess` and one `call` add to a request whose session ID is live, beyond koa-session
 * alone with a handler that awaits one promise as the other awaits its call (issue 23). Counted in
 * a child process with async_hooks, so the figures are exact and need no timing.
 *
 * The figures reached: one promise and one reaction (the middleware's `then` after `next()`; the
 * call's promise stands where the other handler's awaited promise does). Before issue 23 the same
 * request added 8 promises and 5 reactions (`async` middleware, `await sessions.status(id)`,
 * `await live(...)`, `await next()`). A change that adds an await to this path fails here; if it is
 * worth its microtask, raise the figure with the reason in the commit message.
 */
const MAX_ADDED_PROMISES = 1;
const MAX_ADDED_REACTIONS = 1;

interface Counted {
  promises: number;
  reactions: number;
  bodies: string[];
  cookiesSet: number;
}

afterAll(removeBundles);

describe('sessionProcess on the hot path (a live ID, one call)', () => {
  it('adds at most one promise and one microtask hop per request to koa-session alone', async () => {
    const child = await bundleChild(new URL('./hotPath.entry.ts', import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, [child], { timeout: 30_000 });
    const { baseline, sessionProcess } = JSON.parse(stdout) as {
      baseline: Counted;
      sessionProcess: Counted;
    };

    // The counter sees the promises of koa-session and Koa, the same on every request.
    expect(baseline.promises).toBeGreaterThan(0);
    expect(Number.isInteger(baseline.promises)).toBe(true);
    expect(Number.isInteger(sessionProcess.promises)).toBe(true);
    // Both answer the same body, and neither rewrites the cookie of an unchanged session.
    expect(sessionProcess.bodies).toEqual(['{"value":0}']);
    expect(baseline.bodies).toEqual(['{"value":0}']);
    expect(sessionProcess.cookiesSet).toBe(0);
    expect(baseline.cookiesSet).toBe(0);

    expect(sessionProcess.promises - baseline.promises).toBeLessThanOrEqual(MAX_ADDED_PROMISES);
    expect(sessionProcess.reactions - baseline.reactions).toBeLessThanOrEqual(MAX_ADDED_REACTIONS);
  });
});
