import type { Middleware } from 'koa';
import type { Registry } from 'prom-client';
import { isLoopback } from 'session-process/visualizer';

/** The path the shop serves its metrics on. */
export const METRICS_PATH = '/metrics';

/**
 * Serves `registry` (Prometheus text format) at `/metrics`, to this machine only: a scraper on
 * another host goes through something you configure (a proxy with its own auth), never straight to
 * the shop. Mount it before the session middleware: a scrape starts no session.
 *
 * @example
 * ```ts
 * const registry = new Registry();
 * prometheusMetrics(sessions, { registry });
 * app.use(metricsEndpoint(registry));
 * ```
 */
export function metricsEndpoint(registry: Registry): Middleware {
  return async (ctx, next) => {
    if (ctx.path !== METRICS_PATH) return next();
    if (!isLoopback(ctx)) ctx.throw(403, 'Metrics are served to this machine only');
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      ctx.set('Allow', 'GET, HEAD');
      ctx.throw(405);
    }
    ctx.type = registry.contentType;
    ctx.body = await registry.metrics();
  };
}
