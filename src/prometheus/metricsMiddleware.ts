import type { Context, Middleware } from 'koa';
import type { Registry } from 'prom-client';
import { type AllowedHosts, hostnameOf, isHostAllowed, isLoopback } from '../koa/index.js';

/**
 * Options of {@link metricsMiddleware}.
 *
 * @example
 * ```ts
 * metricsMiddleware(registry, { path: '/metrics', allowedHosts: ['metrics.internal'] });
 * ```
 */
export interface MetricsMiddlewareOptions {
  /** The path the metrics are served on; other paths pass to the next middleware. @default '/metrics' */
  path?: string | undefined;
  /**
   * Host names answered besides loopback names (`localhost`, `*.localhost`) and IP addresses, as
   * the visualizer's `allowedHosts`: exact names, `'.example.com'` for a domain and its
   * subdomains, or `'any'`. A page on another site can rebind its own name to 127.0.0.1 and read
   * the metrics as "same origin" (DNS rebinding); the browser still sends that name as `Host`.
   * With `app.proxy`, the host checked is `X-Forwarded-Host`.
   * @default [] (loopback names and IP addresses only)
   */
  allowedHosts?: AllowedHosts | undefined;
  /**
   * Who may read the metrics. The default, `isLoopback`, admits requests from this machine that
   * no proxy relayed (a scraper on another host goes through something you configure).
   * @default isLoopback
   */
  authorize?: ((ctx: Context) => boolean | Promise<boolean>) | undefined;
}

/**
 * Koa middleware serving `registry` in the Prometheus text format at `/metrics`, with the
 * visualizer's checks: the `Host` must be a loopback name, an IP address or in `allowedHosts`
 * (else `403`: a DNS-rebinding page cannot read it), and `authorize` (default `isLoopback`: this
 * machine, no proxy headers) must pass (else `403`). `GET` and `HEAD` only (else `405`). Mount it
 * before the session middleware: a scrape then starts no session.
 *
 * @example
 * ```ts
 * import { Registry } from 'prom-client';
 * import { metricsMiddleware, prometheusMetrics } from 'session-process/prometheus';
 *
 * const registry = new Registry();
 * prometheusMetrics(sessions, { registry, live: [live] });
 * app.use(metricsMiddleware(registry)); // before app.use(session(...))
 * ```
 */
export function metricsMiddleware(
  registry: Registry,
  options: MetricsMiddlewareOptions = {},
): Middleware {
  const path = options.path ?? '/metrics';
  const allowedHosts = options.allowedHosts ?? [];
  const authorize = options.authorize ?? isLoopback;
  return async function metrics(ctx, next) {
    if (ctx.path !== path) return next();
    ctx.set('Cache-Control', 'no-store');
    if (!isHostAllowed(ctx.host, allowedHosts)) {
      const name = hostnameOf(ctx.host).slice(0, 200);
      forbid(
        ctx,
        `The metrics are not served to the host name "${name}": add it to metricsMiddleware's allowedHosts if it is this server's name`,
      );
      return;
    }
    // One that throws fails the request (500): a bug in it must not pass for a refusal.
    if ((await authorize(ctx as Context)) !== true) {
      forbid(ctx, 'The metrics are served to this machine only (see metricsMiddleware authorize)');
      return;
    }
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      ctx.status = 405;
      ctx.set('Allow', 'GET, HEAD');
      return;
    }
    ctx.type = registry.contentType;
    ctx.body = await registry.metrics();
  };
}

function forbid(ctx: Context, message: string): void {
  ctx.status = 403;
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.type = 'text/plain; charset=utf-8';
  ctx.body = `Forbidden\n\n${message}\n`;
}
