import { type IncomingMessage, type Server, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { debuglog } from 'node:util';
import type { Context } from 'koa';
import { WebSocketServer } from 'ws';
import type { SessionSupervisor } from '../index.js';
import { isHostAllowed, isLoopback } from '../koa/index.js';
import { answerHttp, claim } from '../live/index.js';
import { CLOSE_SLOW_READER } from './constants.js';
import { loadAssets } from './assets.js';
import { explainRefusal, type RefusalFacts } from './explainRefusal.js';
import { FeedConnection } from './FeedConnection.js';
import { FeedHub } from './FeedHub.js';
import { originAllowed, originCheck } from './originAllowed.js';
import { renderPage } from './renderPage.js';
import type { Visualizer, VisualizerAttachment, VisualizerOptions } from './types.js';
import { defaultSanitize, type Sanitize } from './sanitize.js';
import {
  type RefusalReason,
  VisualizerError,
  type VisualizerReport,
  visualizerTelemetryChannels,
} from './VisualizerError.js';

const debug = debuglog('session-process');

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
      r.code === 'VISUALIZER_DROPPED'
        ? visualizerTelemetryChannels.dropped
        : visualizerTelemetryChannels.refused;
    const err = new VisualizerError(r, cause === undefined ? undefined : { cause });
    if (ch.hasSubscribers) ch.publish(err.toJSON());
    if (!options.onError) {
      debug('visualizer: %s %s (%s): %s', r.target, r.code, r.reason, r.message);
      return;
    }
    try {
      options.onError(err, {
        source: r.code === 'VISUALIZER_DROPPED' ? 'dropped' : 'refused',
        reason: r.reason,
      });
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
    const host = facts.host ?? req.headers.host; // the one judged: X-Forwarded-Host with app.proxy
    if (host !== undefined) r.host = host;
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
