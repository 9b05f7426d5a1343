import { type IncomingMessage, type Server, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { debuglog } from 'node:util';
import type Koa from 'koa';
import type { Context, Middleware } from 'koa';
import { WebSocketServer } from 'ws';
import type { SessionSupervisor } from '../index.js';
import { answerHttp, claim } from '../live/upgrade.js';
import { type AllowedHosts, isHostAllowed } from './allowedHosts.js';
import { loadAssets } from './assets.js';
import { explainRefusal, type RefusalFacts } from './explainRefusal.js';
import { FeedConnection } from './FeedConnection.js';
import { FeedHub } from './FeedHub.js';
import { isLoopback } from './isLoopback.js';
import { renderPage } from './renderPage.js';
import { defaultSanitize, type Sanitize } from './sanitize.js';
import {
  type RefusalReason,
  VisualizerError,
  type VisualizerReport,
  visualizerChannels,
} from './VisualizerError.js';

const debug = debuglog('session-process');

/**
 * Browser origins allowed to open the feed besides the page's own: exact `Origin` values, a
 * predicate, or `'same-origin'` for none (the shape of the live bridge's `origins`).
 */
export type VisualizerOrigins =
  | readonly string[]
  | 'same-origin'
  | ((origin: string, ctx: Koa.Context) => boolean);

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
   * Host names the page and the feed answer to, besides loopback names (`localhost`,
   * `*.localhost`) and IP addresses, which always pass: exact names, `'.example.com'` for a
   * domain and its subdomains, or `'any'` to turn the check off. Any other `Host` gets a 403
   * that names this option: it is what stops a DNS-rebinding page from reading the sessions.
   * Behind a proxy with `app.proxy`, the host checked is `X-Forwarded-Host`.
   * @default [] (loopback names and IP addresses only)
   */
  allowedHosts?: AllowedHosts;
  /**
   * Rewrites everything that leaves the server: contexts, event payloads, state values.
   * @default defaultSanitize: contexts and events through `maskSecrets` (values under keys such
   * as password, secret, token, apiKey, authorization, cookie, card, cvv, pin, otp, ssn, at any
   * depth, in Maps and Sets too, become '••••••')
   */
  sanitize?: Sanitize;
  /** Whether the page may send events to a session (a cast). @default false */
  allowSend?: boolean;
  /**
   * The Koa app, used to build the context `authorize` sees for a feed upgrade.
   * @default the app of the first request the middleware sees (until then the feed answers 403)
   */
  app?: Koa<any, any>;
  /**
   * Browser origins that may open the feed besides the page's own (same host and port, as
   * `ctx.host` gives it: with `app.proxy`, the forwarded one), which always may: a list of exact
   * `Origin` values, a predicate, or `'same-origin'`. Clients that send no `Origin` (not
   * browsers) are judged by `authorize` alone.
   * @default 'same-origin'
   */
  origins?: VisualizerOrigins;
  /** Changes are batched and sent at most this often, per browser. @default 250 (ms) */
  throttleMs?: number;
  /** Most sessions a list page may hold. @default 200 */
  maxPageSize?: number;
  /** Largest message a browser may send on the feed. @default 65_536 (bytes) */
  maxPayloadBytes?: number;
  /**
   * Most bytes queued for one browser; a feed above it is closed with code 4008 and reported
   * (`VISUALIZER_DROPPED`, reason `slow-reader`). Updates stop being sent well before (above a
   * quarter of it) and resume when the browser catches up.
   * @default 4_194_304 (4 MiB)
   */
  maxBufferedBytes?: number;
  /**
   * Most requests (list, select, send) a browser may leave unanswered while it is not reading
   * what it was sent; one more and its feed is closed like a slow reader's.
   * @default 100
   */
  maxUnansweredRequests?: number;
  /** Most feeds open (and opening) at once; more are refused with 503. @default 64 */
  maxConnections?: number;
  /** Ping interval; a browser that misses a pong is disconnected. @default 30_000 (ms) */
  heartbeatMs?: number;
  /** The page's title. @default 'Sessions' */
  title?: string;
  /**
   * Told about every refused request or upgrade and every dropped feed, with the reason
   * (`host`, `origin`, `authorize`, `path`, `limit`, `no-app`, `slow-reader`). The same reports go
   * to the `session-process:visualizer-refused` and `:visualizer-dropped` diagnostics channels.
   * Its shape is the supervisor's and the live bridge's (an error, then an info object), so one
   * handler can serve all three.
   * @default logs with `NODE_DEBUG=session-process`
   */
  onError?: (error: VisualizerError, info: { source: 'refused' | 'dropped' }) => void;
}

/** What `attach` returns: the feed on one server. */
export interface VisualizerAttachment {
  /** Detaches the feed from the server and closes its connections. */
  close(): Promise<void>;
}

/** The visualizer: a Koa middleware with an `attach` method for its live feed. */
export interface Visualizer extends Middleware {
  /**
   * Adds the live feed to an HTTP or HTTPS server (on its `upgrade` event, for `${path}/feed`;
   * other upgrades under `path` are refused, the rest left to other handlers).
   *
   * @example
   * ```ts
   * const feed = viz.attach(server);
   * await feed.close(); // detaches it and closes its feeds
   * ```
   */
  attach(server: Server | HttpsServer): VisualizerAttachment;
  /** Detaches from every server and closes every feed. */
  close(): Promise<void>;
  /** The mount path. */
  readonly path: string;
}

/** Close code of a feed dropped for not reading what it asked for. */
export const CLOSE_SLOW_READER = 4008;

const STATUS: Record<RefusalReason, number> = {
  host: 403,
  origin: 403,
  authorize: 403,
  'no-app': 403,
  path: 404,
  limit: 503,
};

/**
 * The session visualizer: a page listing live sessions and drawing the selected one's
 * statechart, following it live. Serves the page and its bundled assets under `path` (and
 * touches no other request), behind `allowedHosts` and `authorize`; `attach(server)` adds its
 * WebSocket feed.
 *
 * @example
 * ```ts
 * import { visualizer, isLoopback } from 'session-process/visualizer';
 *
 * const viz = visualizer(sessions, { path: '/_sessions', authorize: (ctx) => isLoopback(ctx) });
 * app.use(viz);
 * const server = app.listen(3000);
 * const feed = viz.attach(server); // ws feed on /_sessions/feed; feed.close() detaches it
 * ```
 */
export function visualizer(
  sessions: SessionSupervisor,
  options: VisualizerOptions = {},
): Visualizer {
  const path = normalizePath(options.path ?? '/_sessions');
  const authorize = options.authorize ?? isLoopback;
  const sanitize: Sanitize = options.sanitize ?? defaultSanitize;
  const allowSend = options.allowSend ?? false;
  const throttleMs = options.throttleMs ?? 250;
  const heartbeatMs = options.heartbeatMs ?? 30_000;
  const allowedHosts = options.allowedHosts ?? [];
  const maxConnections = options.maxConnections ?? 64;
  const maxBufferedBytes = options.maxBufferedBytes ?? 4 * 1024 * 1024;
  const originOk = originCheck(options.origins ?? 'same-origin');
  const feedPath = `${path}/feed`;
  let app = options.app;
  const page = renderPage({ path, allowSend, title: options.title ?? 'Sessions' });
  const hub = new FeedHub(sessions, throttleMs);
  const detachers = new Set<() => Promise<void>>();
  /** Feeds open or being opened, across every attached server (`maxConnections`). */
  let feeds = 0;

  const report = (r: VisualizerReport, cause?: unknown) => {
    const ch =
      r.code === 'VISUALIZER_DROPPED' ? visualizerChannels.dropped : visualizerChannels.refused;
    const err = new VisualizerError(r, cause === undefined ? undefined : { cause });
    if (ch.hasSubscribers) ch.publish(err.toJSON());
    if (!options.onError) {
      debug('visualizer: %s %s (%s): %s', r.target, r.code, r.reason, r.message);
      return;
    }
    try {
      options.onError(err, { source: r.code === 'VISUALIZER_DROPPED' ? 'dropped' : 'refused' });
    } catch (e) {
      debug('visualizer: onError threw: %o', e);
    }
  };

  /** Refuses with the reason, reports it, and returns what to answer. */
  const refuse = (
    target: 'page' | 'feed',
    req: IncomingMessage,
    facts: Omit<RefusalFacts, 'defaultAuthorize' | 'feedPath' | 'maxConnections'>,
    cause?: unknown,
  ) => {
    const message = explainRefusal({
      ...facts,
      defaultAuthorize: options.authorize === undefined,
      feedPath,
      maxConnections,
    });
    const r: VisualizerReport = {
      code: 'VISUALIZER_REFUSED',
      reason: facts.reason,
      target,
      message,
    };
    if (req.headers.host !== undefined) r.host = req.headers.host;
    if (req.headers.origin !== undefined) r.origin = req.headers.origin;
    if (req.url !== undefined) r.path = pathOf(req);
    if (req.socket?.remoteAddress !== undefined) r.remoteAddress = req.socket.remoteAddress;
    report(r, cause);
    return { status: STATUS[facts.reason], message };
  };

  /** `undefined` when allowed, else the refusal (reason `authorize`). */
  const checkAuthorize = async (ctx: Context, target: 'page' | 'feed') => {
    let ok = false;
    try {
      ok = (await authorize(ctx)) === true;
    } catch (err) {
      return refuse(target, ctx.req, { reason: 'authorize', ctx, authorizeThrew: true }, err);
    }
    if (ok) return undefined;
    return refuse(target, ctx.req, {
      reason: 'authorize',
      ctx,
      remoteAddress: ctx.req.socket?.remoteAddress,
    });
  };

  const middleware = async (ctx: Context, next: () => Promise<unknown>) => {
    const p = ctx.path;
    if (p !== path && !p.startsWith(`${path}/`)) return next();
    app ??= ctx.app;
    const refused = !isHostAllowed(ctx.host, allowedHosts)
      ? refuse('page', ctx.req, { reason: 'host', host: ctx.host, ctx })
      : await checkAuthorize(ctx, 'page');
    if (refused) {
      ctx.status = refused.status;
      ctx.set('Cache-Control', 'no-store');
      ctx.set('X-Content-Type-Options', 'nosniff');
      ctx.type = 'text/plain; charset=utf-8';
      ctx.body = `Forbidden\n\n${refused.message}\n`;
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

  const attach = (server: Server | HttpsServer): VisualizerAttachment => {
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
      const reqPath = pathOf(req);
      if (reqPath !== path && !reqPath.startsWith(`${path}/`)) return; // someone else's upgrade
      claim(socket);
      socket.on('error', () => socket.destroy());
      const no = (r: { status: number }) => answerHttp(socket, r.status);
      if (reqPath !== feedPath) return no(refuse('feed', req, { reason: 'path' }));
      const ctx: Context | undefined = app
        ? (app.createContext(req, new ServerResponse(req)) as Context)
        : undefined;
      const host = ctx ? ctx.host : req.headers.host;
      if (!isHostAllowed(host, allowedHosts)) {
        return no(refuse('feed', req, { reason: 'host', host, ctx }));
      }
      if (!ctx) return no(refuse('feed', req, { reason: 'no-app' }));
      const origin = req.headers.origin;
      if (origin !== undefined && !originAllowed(origin, ctx, originOk)) {
        return no(refuse('feed', req, { reason: 'origin', origin, host, ctx }));
      }
      if (feeds >= maxConnections) return no(refuse('feed', req, { reason: 'limit' }));
      feeds++; // counted from here, so that upgrades waiting on `authorize` count too
      let counted = true;
      const uncount = () => {
        if (counted) feeds--;
        counted = false;
      };
      // Until the socket closes: an open feed, but also a handshake that ws aborts (a bad key)
      // without calling back, which must not hold a place for ever.
      socket.once('close', uncount);
      void (async () => {
        const refused = await checkAuthorize(ctx, 'feed');
        if (refused) {
          uncount();
          return no(refused);
        }
        if (socket.destroyed) return uncount();
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
            highWaterMarkBytes: Math.max(1, Math.floor(maxBufferedBytes / 4)),
            maxBufferedBytes,
            maxUnansweredRequests: options.maxUnansweredRequests ?? 100,
            onDrop: (dropped) => {
              const r: VisualizerReport = {
                code: 'VISUALIZER_DROPPED',
                reason: 'slow-reader',
                target: 'feed',
                message:
                  `A visualizer page stopped reading its feed (${dropped.bufferedBytes} bytes ` +
                  `queued, ${dropped.unansweredRequests} requests unanswered): it was closed ` +
                  `with code ${CLOSE_SLOW_READER} (limits: maxBufferedBytes, maxUnansweredRequests).`,
                bufferedBytes: dropped.bufferedBytes,
                unansweredRequests: dropped.unansweredRequests,
              };
              if (req.socket?.remoteAddress !== undefined)
                r.remoteAddress = req.socket.remoteAddress;
              report(r);
            },
          });
        });
      })().catch((err) => {
        uncount();
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
    return { close: detach };
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

function originCheck(origins: VisualizerOrigins): (origin: string, ctx: Koa.Context) => boolean {
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
 * A browser always sends `Origin` on a WebSocket handshake; one from another site must not ride
 * on the operator's cookies or on a loopback address (cross-site WebSocket hijacking). The page's
 * own origin is its host and port as the server sees them (`ctx.host`: with `app.proxy`, the
 * forwarded host); the scheme is not compared, since a proxy that terminates TLS makes an https
 * page's upgrade arrive as http.
 */
function originAllowed(
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
