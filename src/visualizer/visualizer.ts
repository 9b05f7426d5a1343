import { type IncomingMessage, ServerResponse, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { debuglog } from 'node:util';
import type Koa from 'koa';
import type { Context, Middleware } from 'koa';
import { WebSocketServer } from 'ws';
import type { SessionSupervisor } from '../index.js';
import { answerHttp, claim } from '../live/index.js';
import { loadAssets } from './assets.js';
import { FeedConnection } from './FeedConnection.js';
import { FeedHub } from './FeedHub.js';
import { isLoopback } from './isLoopback.js';
import { renderPage } from './renderPage.js';
import { maskSecrets, type Sanitize } from './sanitize.js';

const debug = debuglog('session-process');

/** Options of {@link visualizer}. */
export interface VisualizerOptions {
  /** Where the page is mounted; the feed is at `${path}/feed`. @default '/_sessions' */
  path?: string;
  /**
   * Who may see the page, its assets and the feed (403 otherwise). For the feed it is called
   * with a Koa context built from the upgrade request (`app.createContext(req, res)`), so the
   * same checks (cookies, headers, `ctx.ip`) work for both.
   * @default isLoopback
   */
  authorize?: (ctx: Context) => boolean | Promise<boolean>;
  /**
   * Rewrites everything that leaves the server: contexts, event payloads, state values.
   * @default maskSecrets: values under keys matching /pass|secret|token|card|cvc/i become '••••••'
   */
  sanitize?: Sanitize;
  /** Whether the page may send events to a session (a cast). @default false */
  allowSend?: boolean;
  /**
   * The Koa app, used to build the context `authorize` sees for a feed upgrade.
   * @default the app of the first request the middleware sees (until then the feed answers 403)
   */
  app?: Koa<any, any>;
  /** Origins allowed to open the feed (the page's own origin always is). @default [] */
  origins?: string[];
  /** Changes are batched and sent at most this often, per browser. @default 250 (ms) */
  throttleMs?: number;
  /** Most sessions a list page may hold. @default 200 */
  maxPageSize?: number;
  /** Largest message a browser may send on the feed. @default 65_536 (bytes) */
  maxPayloadBytes?: number;
  /** Ping interval; a browser that misses a pong is disconnected. @default 30_000 (ms) */
  heartbeatMs?: number;
  /** The page's title. @default 'Sessions' */
  title?: string;
}

/** The visualizer: a Koa middleware with an `attach` method for its live feed. */
export interface Visualizer extends Middleware {
  /**
   * Adds the live feed to an HTTP server (on its `upgrade` event, for `${path}/feed` only; other
   * paths are left to other handlers). Returns a function that detaches it and closes its feeds.
   */
  attach(server: Server): () => Promise<void>;
  /** Detaches from every server and closes every feed. */
  close(): Promise<void>;
  /** The mount path. */
  readonly path: string;
}

/**
 * The session visualizer: a page listing live sessions and drawing the selected one's
 * statechart, following it live. Serves the page and its bundled assets under `path` (and
 * touches no other request), behind `authorize`; `attach(server)` adds its WebSocket feed.
 *
 * @example
 * ```ts
 * import { visualizer, isLoopback } from 'session-process/visualizer';
 *
 * const viz = visualizer(sessions, { path: '/_sessions', authorize: (ctx) => isLoopback(ctx) });
 * app.use(viz);
 * const server = app.listen(3000);
 * viz.attach(server); // ws feed on /_sessions/feed
 * ```
 */
export function visualizer(
  sessions: SessionSupervisor,
  options: VisualizerOptions = {},
): Visualizer {
  const path = normalizePath(options.path ?? '/_sessions');
  const authorize = options.authorize ?? isLoopback;
  const sanitize: Sanitize = options.sanitize ?? ((v) => maskSecrets(v));
  const allowSend = options.allowSend ?? false;
  const throttleMs = options.throttleMs ?? 250;
  const heartbeatMs = options.heartbeatMs ?? 30_000;
  const feedPath = `${path}/feed`;
  let app = options.app;
  const page = renderPage({ path, allowSend, title: options.title ?? 'Sessions' });
  const hub = new FeedHub(sessions, throttleMs);
  const detachers = new Set<() => Promise<void>>();

  const allowed = async (ctx: Context): Promise<boolean> => {
    try {
      return (await authorize(ctx)) === true;
    } catch (err) {
      debug('visualizer: authorize threw, refusing: %o', err);
      return false;
    }
  };

  const middleware = async (ctx: Context, next: () => Promise<unknown>) => {
    const p = ctx.path;
    if (p !== path && !p.startsWith(`${path}/`)) return next();
    app ??= ctx.app;
    if (!(await allowed(ctx))) {
      ctx.status = 403;
      ctx.body = 'Forbidden';
      return;
    }
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      ctx.status = 405;
      ctx.set('Allow', 'GET, HEAD');
      return;
    }
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Referrer-Policy', 'no-referrer');
    const sub = p.slice(path.length);
    if (sub === '' || sub === '/') {
      // Nothing outside this origin: no CDN, no font, no request anywhere else.
      ctx.set(
        'Content-Security-Policy',
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
      );
      ctx.set('Cache-Control', 'no-store');
      ctx.type = 'text/html; charset=utf-8';
      ctx.body = page;
      return;
    }
    if (sub === '/app.js' || sub === '/app.css') {
      const assets = await loadAssets();
      const js = sub === '/app.js';
      // Revalidated on every load (the bundle is 1.4 MB, mostly ELK): a 304 when unchanged.
      ctx.set('Cache-Control', 'no-cache');
      ctx.etag = js ? assets.etags.js : assets.etags.css;
      ctx.type = js ? 'text/javascript; charset=utf-8' : 'text/css; charset=utf-8';
      ctx.status = 200; // `fresh` is only judged for a 2xx response
      if (ctx.fresh) {
        ctx.status = 304;
        return;
      }
      ctx.body = js ? assets.js : assets.css;
      return;
    }
    if (sub === '/feed') {
      ctx.status = 426;
      ctx.set('Upgrade', 'websocket');
      ctx.body = 'Upgrade Required';
      return;
    }
    ctx.status = 404;
    ctx.body = 'Not Found';
  };

  const attach = (server: Server) => {
    const wss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      maxPayload: options.maxPayloadBytes ?? 65_536,
    });
    wss.on('error', (err) => debug('visualizer feed: %o', err));
    const alive = new WeakSet<object>();
    const heartbeat = setInterval(() => {
      for (const ws of wss.clients) {
        if (!alive.has(ws)) {
          ws.terminate();
          continue;
        }
        alive.delete(ws);
        ws.ping();
      }
    }, heartbeatMs);
    heartbeat.unref();

    const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (pathOf(req) !== feedPath) return; // someone else's upgrade
      claim(socket);
      socket.on('error', () => socket.destroy());
      void (async () => {
        if (!originAllowed(req, options.origins ?? [])) return answerHttp(socket, 403);
        if (!app) {
          debug('visualizer: feed refused, no Koa app yet (pass { app } or load the page first)');
          return answerHttp(socket, 403);
        }
        const ctx = app.createContext(req, new ServerResponse(req));
        if (!(await allowed(ctx))) return answerHttp(socket, 403);
        if (socket.destroyed) return;
        wss.handleUpgrade(req, socket, head, (ws) => {
          alive.add(ws);
          ws.on('pong', () => alive.add(ws));
          ws.on('error', (err) => debug('visualizer feed socket: %o', err));
          new FeedConnection(ws, {
            sessions,
            hub,
            sanitize,
            allowSend,
            throttleMs,
            maxPageSize: options.maxPageSize ?? 200,
            maxPendingEvents: 500,
            maxBufferedBytes: 1 << 20,
          });
        });
      })().catch((err) => {
        debug('visualizer: upgrade failed: %o', err);
        answerHttp(socket, 500);
      });
    };
    server.on('upgrade', onUpgrade);

    const detach = async () => {
      if (!detachers.delete(detach)) return;
      server.off('upgrade', onUpgrade);
      clearInterval(heartbeat);
      for (const ws of wss.clients) ws.close(1001, 'visualizer closed');
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      for (const ws of wss.clients) ws.terminate();
    };
    detachers.add(detach);
    return detach;
  };

  return Object.assign(middleware, {
    attach,
    path,
    close: async () => {
      await Promise.all([...detachers].map((d) => d()));
    },
  });
}

function normalizePath(path: string): string {
  const p = `/${path.replace(/^\/+|\/+$/g, '')}`;
  if (p === '/') throw new TypeError('visualizer: `path` must not be the site root');
  return p;
}

function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/**
 * A browser always sends `Origin` on a WebSocket handshake; one from another site must not ride
 * on the operator's cookies or on a loopback address (cross-site WebSocket hijacking). Clients
 * that are not browsers send no `Origin` and are judged by `authorize` alone.
 */
function originAllowed(req: IncomingMessage, origins: string[]): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  if (origins.includes(origin)) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}
