import { debuglog } from 'node:util';
import type Koa from 'koa';
import type { Context } from 'koa';
import type { VisualizerOrigins } from './types.js';

const debug = debuglog('session-process');

/** @internal The predicate for the origins `origins` adds to the page's own. */
export function originCheck(
  origins: VisualizerOrigins,
): (origin: string, ctx: Koa.Context) => boolean {
  if (typeof origins === 'function') return origins;
  if (origins === 'same-origin') return () => false;
  if (!Array.isArray(origins)) {
    throw new TypeError(
      "visualizer: `origins` must be a list of Origin values, 'same-origin' or a function",
    );
  }
  const allowed = new Set(origins);
  return (origin) => allowed.has(origin);
}

/**
 * @internal
 * A browser always sends `Origin` on a WebSocket handshake; one from another site must not ride
 * on the operator's cookies or on a loopback address (cross-site WebSocket hijacking). The page's
 * own origin is its host and port as the server sees them (`ctx.host`: with `app.proxy`, the
 * forwarded host); the scheme is not compared, since a proxy that terminates TLS makes an https
 * page's upgrade arrive as http.
 */
export function originAllowed(
  origin: string,
  ctx: Context,
  extra: (origin: string, ctx: Koa.Context) => boolean,
): boolean {
  try {
    if (new URL(origin).host === ctx.host) return true;
  } catch {
    // not a URL: only an explicit entry (or the predicate) can allow it
  }
  try {
    return extra(origin, ctx) === true;
  } catch (err) {
    debug('visualizer: origins predicate threw, refusing: %o', err);
    return false;
  }
}
