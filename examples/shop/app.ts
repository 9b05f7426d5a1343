import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import Koa, { type Middleware } from 'koa';
import session from 'koa-session';
import {
  createSessionSupervisor,
  type SessionSupervisor,
  type SupervisorOptions,
} from 'session-process';
import { sessionProcess } from 'session-process/koa';
import { isLoopback, visualizer } from 'session-process/visualizer';
import { type CartInput, cartMachine } from '../../machines/cart.js';
import { mountApi } from './apiRoutes.js';
import { errorHandler } from './errors.js';
import { mountPages } from './pageRoutes.js';
import { createRouter } from './router.js';

/** Options of {@link createShopApp}. */
export interface ShopAppOptions {
  /**
   * Keys that sign the session cookie, newest first (Koa's `app.keys`).
   * @default the comma-separated `SHOP_KEYS` environment variable, else a random key per process
   * (sessions then last as long as the process, which is also how long their carts live)
   */
  keys?: string[] | undefined;
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
}

/** What {@link createShopApp} returns. */
export interface ShopApp {
  /** The Koa app (add middleware with `app.use`: it sees the requests the shop does not answer). */
  app: Koa;
  /** `http.createServer(app.callback())`, **not listening yet**: call `server.listen(port, host)`. */
  server: Server;
  sessions: SessionSupervisor;
  /** The koa-session middleware the app uses (the live bridge reuses it to read the session). */
  sessionMiddleware: Middleware;
  /** Closes the server (if listening, with its connections) and shuts down a supervisor it created. */
  close(): Promise<void>;
}

/** The session cookie's name. */
export const SHOP_COOKIE = 'shop.sid';

/**
 * The demo shop: Koa 3, koa-session 7 (signed, httpOnly, `sameSite: 'lax'` cookie with an
 * explicit `maxAge`) and `sessionProcess` on `cartMachine`: server-rendered pages (products, cart,
 * login with `rotate()`, checkout through payment, order confirmation) and a JSON API under
 * `/api/`.
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
    options.sessions ?? createSessionSupervisor({ ...options.supervisor, logic: cartMachine });
  const app = new Koa();
  app.keys = options.keys ??
    process.env.SHOP_KEYS?.split(',').filter(Boolean) ?? [randomBytes(32).toString('base64url')];

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
  const router = createRouter();
  mountPages(router);
  mountApi(router);

  app.use(errorHandler());
  app.use(async (ctx, next) => {
    // A browser asks for it alongside the first page: it must not start a second cart.
    if (ctx.path === '/favicon.ico') ctx.status = 204;
    else await next();
  });
  // The session visualizer, for operators on this machine; before the session middleware so
  // that opening it starts no cart.
  const viz = visualizer(sessions, {
    path: '/_sessions',
    authorize: (ctx) => isLoopback(ctx),
    app,
  });
  app.use(viz);
  for (const middleware of options.before ?? []) app.use(middleware);
  app.use(sessionMiddleware);
  app.use(sessionProcess(sessions, { input: () => cartInput }));
  app.use(router.middleware());

  const server = createServer(app.callback());
  viz.attach(server);
  return {
    app,
    server,
    sessions,
    sessionMiddleware,
    async close() {
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
