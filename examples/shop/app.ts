import { createServer, type Server } from 'node:http';
import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import Koa, { type Middleware } from 'koa';
import session from 'koa-session';
import { Registry } from 'prom-client';
import {
  createSessionSupervisor,
  type SessionSupervisor,
  type SupervisorOptions,
} from 'session-process';
import { type SessionProcessOptions, sessionProcess } from 'session-process/koa';
import {
  metricsMiddleware,
  type PrometheusMetrics,
  prometheusMetrics,
} from 'session-process/prometheus';
import { isLoopback, visualizer } from 'session-process/visualizer';
import type { CartInput } from '../../machines/cart.js';
import { cartVersions } from '../../machines/cartVersions.js';
import { mountApi } from './apiRoutes.js';
import { errorHandler, requireBodyType } from './errors.js';
import { cookieKeys } from './keys.js';
import { mountPages } from './pageRoutes.js';

/** Options of {@link createShopApp}. */
export interface ShopAppOptions {
  /**
   * Keys that sign the session cookie, newest first (Koa's `app.keys`), 32 characters or more.
   * @default `cookieKeys(process.env)`: the comma-separated `COOKIE_SECRET`; without it a random key
   * per process and a warning, or, with `NODE_ENV=production`, an error at start-up
   */
  keys?: string[] | undefined;
  /**
   * Session starts allowed per client address (`sessionProcess`'s `clientStartRate`).
   * @default { limit: 60, intervalMs: 60_000 }
   */
  clientStartRate?: SessionProcessOptions['clientStartRate'];
  /** Whether Koa trusts `X-Forwarded-For` (Koa's `app.proxy`): set it behind a proxy. @default false */
  proxy?: boolean | undefined;
  /** The supervisor to use. When absent one is created with `cartMachine` (and `close()` shuts it down). */
  sessions?: SessionSupervisor | undefined;
  /** Options of the supervisor created when `sessions` is absent. @default {} (the core's defaults) */
  supervisor?: Omit<SupervisorOptions, 'logic'> | undefined;
  /** Input of every new cart session (`reservationMs`, `paymentDelayMs`). @default {} (the machine's defaults) */
  cart?: CartInput | undefined;
  /** Lifetime of the session cookie in milliseconds. @default 86_400_000 (one day) */
  maxAgeMs?: number | undefined;
  /** Whether the session cookie is `Secure` (HTTPS only): set it behind TLS. @default false */
  secureCookie?: boolean | undefined;
  /**
   * Middleware mounted before the session middleware, for routes that must not create a session
   * (health checks, the visualizer at `/_sessions`). Middleware added later with `app.use` runs
   * after the shop's routes, for paths they do not handle, with `ctx.sessionProcess` set.
   * @default []
   */
  before?: Middleware[] | undefined;
  /**
   * The HTTP server's own limits (see {@link SHOP_SERVER_LIMITS}): how long a request head and a
   * whole request may take, and how many connections the server holds at once.
   * @default SHOP_SERVER_LIMITS
   */
  server?: Partial<ShopServerLimits> | undefined;
}

/** Limits of the shop's HTTP server (Node's `http.Server` settings). */
export interface ShopServerLimits {
  /** A request head not complete after this long is answered 408 (Node's `headersTimeout`). */
  headersTimeoutMs: number;
  /** A request (head and body) not complete after this long is answered 408 (Node's `requestTimeout`). */
  requestTimeoutMs: number;
  /**
   * Connections the server holds at once, live views included (Node's `maxConnections`): past
   * it, a new connection is closed at once. Keep it below the process's file descriptor limit
   * (`ulimit -n`) and above the live bridge's `maxConnections` (10,000), so that pages still load
   * when the views are full.
   */
  maxConnections: number;
}

/**
 * The shop server's limits: 10 s for a request head, 30 s for a whole request, 12,000
 * connections. Node's own defaults are 60 s, 300 s and no cap: a peer that sends half a head and
 * stops (a slowloris) would hold its file descriptor for a minute, and enough of them would hold
 * every descriptor. The deadlines are checked every second.
 */
export const SHOP_SERVER_LIMITS: Readonly<ShopServerLimits> = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  maxConnections: 12_000,
};

/** What {@link createShopApp} returns. */
export interface ShopApp {
  /** The Koa app (add middleware with `app.use`: it sees the requests the shop does not answer). */
  app: Koa;
  /** `http.createServer(app.callback())`, **not listening yet**: call `server.listen(port, host)`. */
  server: Server;
  sessions: SessionSupervisor;
  /** The koa-session middleware the app uses (the live bridge reuses it to read the session). */
  sessionMiddleware: Middleware;
  /** The registry `/metrics` serves (loopback only); add the live bridge with `metrics.live`. */
  registry: Registry;
  /** The supervisor's metrics on `registry`. */
  metrics: PrometheusMetrics;
  /** Live bridges whose views the `live_connections` gauge counts (push yours here). */
  liveBridges: { readonly clients: number }[];
  /** Closes the server (if listening, with its connections) and shuts down a supervisor it created. */
  close(): Promise<void>;
}

/** The session cookie's name. */
export const SHOP_COOKIE = 'shop.sid';

/**
 * The demo shop, written as a Koa app is: Koa 3, `@koa/router`, `@koa/bodyparser`, zod for input,
 * koa-session 7 (signed, httpOnly, `sameSite: 'lax'` cookie with an explicit `maxAge`) and
 * `sessionProcess` (lazy: a cart session starts with the first item) on `cartVersions` (the
 * current `cartMachine`, which brings stored carts of its versions 1 and 2 along):
 * server-rendered pages (products, cart, login with `rotate()`, checkout through payment, order
 * confirmation), a JSON API under `/api/`, the visualizer at `/_sessions` and Prometheus metrics
 * at `/metrics` (both for this machine only).
 *
 * @example
 * ```ts
 * const shop = createShopApp({ cart: { paymentDelayMs: 50 } });
 * shop.server.listen(3000, '127.0.0.1');
 * // ...
 * await shop.close();
 * ```
 */
export function createShopApp(options: ShopAppOptions = {}): ShopApp {
  const ownSessions = options.sessions === undefined;
  const sessions =
    options.sessions ?? createSessionSupervisor({ ...options.supervisor, logic: cartVersions });
  const app = new Koa();
  app.keys = options.keys ?? cookieKeys(process.env);
  app.proxy = options.proxy ?? false;

  const sessionMiddleware = session(
    {
      key: SHOP_COOKIE,
      maxAge: options.maxAgeMs ?? 86_400_000,
      httpOnly: true,
      sameSite: 'lax',
      signed: true,
      secure: options.secureCookie ?? false,
    },
    app,
  );
  const cartInput: CartInput = { ...options.cart };
  const pages = new Router();
  mountPages(pages);
  const api = new Router({ prefix: '/api' });
  mountApi(api);

  const registry = new Registry();
  const liveBridges: { readonly clients: number }[] = [];
  const metrics = prometheusMetrics(sessions, { registry, live: liveBridges });

  app.use(errorHandler());
  app.use(async (ctx, next) => {
    // A browser asks for it alongside the first page.
    if (ctx.path === '/favicon.ico') ctx.status = 204;
    else await next();
  });
  // For this machine only, and only under a loopback name or an IP address (DNS rebinding).
  app.use(metricsMiddleware(registry));
  // The session visualizer, for operators on this machine.
  const viz = visualizer(sessions, {
    path: '/_sessions',
    authorize: (ctx) => isLoopback(ctx),
    app,
  });
  app.use(viz);
  for (const middleware of options.before ?? []) app.use(middleware);
  app.use(sessionMiddleware);
  // Lazy (the default): pages and API reads start no cart session; the first item does. Created
  // with `app`, so missing or weak keys fail here, at start-up.
  app.use(
    sessionProcess(sessions, {
      app,
      input: () => cartInput,
      ...(options.clientStartRate === undefined
        ? {}
        : { clientStartRate: options.clientStartRate }),
    }),
  );
  app.use(requireBodyType());
  app.use(bodyParser({ enableTypes: ['json', 'form'], jsonLimit: '16kb', formLimit: '16kb' }));
  app.use(pages.routes());
  app.use(pages.allowedMethods());
  app.use(api.routes());
  app.use(api.allowedMethods());

  const limits = { ...SHOP_SERVER_LIMITS, ...options.server };
  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      // How often Node checks the two deadlines (default 30 s: a deadline could be 30 s late).
      connectionsCheckingInterval: 1_000,
    },
    app.callback(),
  );
  server.maxConnections = limits.maxConnections;
  viz.attach(server);
  return {
    app,
    server,
    sessions,
    sessionMiddleware,
    registry,
    metrics,
    liveBridges,
    async close() {
      metrics.close();
      await viz.close();
      if (server.listening) {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
      }
      if (ownSessions) await sessions.shutdown();
    },
  };
}
