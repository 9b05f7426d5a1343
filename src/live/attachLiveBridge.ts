import type { IncomingMessage, Server } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { debuglog } from 'node:util';
import type Koa from 'koa';
import { type WebSocket, WebSocketServer } from 'ws';
import { isSessionError } from '../index.js';
import { type ConnectionContext, LiveConnection } from './LiveConnection.js';
import { type FeedContext, LiveFeed } from './LiveFeed.js';
import { LIVE_SUBPROTOCOL } from './protocol.js';
import type { LiveBridge, LiveBridgeOptions } from './types.js';
import { answerHttp, claim, isClaimed, pathOf, readSessionId, upgradeContext } from './upgrade.js';

const debug = debuglog('session-process');

/**
 * Serves live views of session processes over WebSocket (ws 8) on an existing HTTP server.
 *
 * An upgrade to `path` is accepted when its `Origin` is allowed (else 403), the app's
 * koa-session middleware finds a valid session holding `sessionId` (else 401) and that session
 * is running (else 401). The view then gets the current snapshot, every later one, replies and
 * errors, and `ended` followed by close code 4001 when the session ends or is rotated. See
 * `session-process/client` for the browser side and `./protocol.ts` for the messages.
 *
 * @example
 * ```ts
 * import http from 'node:http';
 * import Koa from 'koa';
 * import session from 'koa-session';
 * import { createSessionSupervisor } from 'session-process';
 * import { sessionProcess } from 'session-process/koa';
 * import { attachLiveBridge } from 'session-process/live';
 *
 * const app = new Koa();
 * app.keys = [process.env.COOKIE_SECRET!];
 * const sessions = createSessionSupervisor({ logic: cartMachine });
 * const sessionMiddleware = session({ key: 'sid', sameSite: 'lax' }, app);
 * app.use(sessionMiddleware);
 * app.use(sessionProcess(sessions));
 * const server = http.createServer(app.callback()).listen(3000);
 *
 * const live = attachLiveBridge(server, {
 *   app, sessions, session: sessionMiddleware,
 *   path: '/live', origins: ['https://shop.example'], events: ['cart.add', 'cart.remove'],
 *   view: (snapshot) => ({ items: snapshot.context.items }),
 * });
 * // on shutdown:
 * await live.close();
 * ```
 */
export function attachLiveBridge<TContext = any>(
  server: Server | HttpsServer,
  options: LiveBridgeOptions<TContext>,
): LiveBridge {
  const { app, sessions, session } = options;
  if (typeof session !== 'function') {
    throw new TypeError('attachLiveBridge: `session` must be the app’s koa-session middleware');
  }
  const path = options.path ?? '/live';
  const originOk = originCheck(options.origins);
  const heartbeatMs = options.heartbeatMs ?? 30_000;
  const rejectOtherPaths = options.rejectOtherPaths ?? true;
  const onError =
    options.onError ??
    ((error: unknown, info: { sessionId?: string }) =>
      console.error('session-process/live:', info.sessionId ?? '', error));
  const report = (error: unknown, sessionId?: string): void => {
    try {
      onError(error, sessionId === undefined ? {} : { sessionId });
    } catch {
      // an onError that throws has nowhere left to report to
    }
  };

  const feeds = new Map<string, LiveFeed>();
  const connections = new Set<LiveConnection>();
  const closing = new Set<Promise<void>>();
  let closed = false;

  const feedContext: FeedContext = {
    sessions,
    view: (options.view as FeedContext['view'] | undefined) ?? (() => null),
    report,
    closed: (feed) => {
      if (feeds.get(feed.sessionId) === feed) feeds.delete(feed.sessionId);
    },
  };
  const connectionContext: ConnectionContext = {
    sessions,
    allowed: new Set(options.events ?? []),
    highWaterMarkBytes: options.highWaterMarkBytes ?? 65_536,
    maxBufferedBytes: options.maxBufferedBytes ?? 1_048_576,
    maxPendingCalls: options.maxPendingCalls ?? 16,
    callTimeoutMs: options.callTimeoutMs,
    maxCallTimeoutMs: options.maxCallTimeoutMs ?? 30_000,
    report,
    closed: (connection) => {
      connections.delete(connection);
      feeds.get(connection.sessionId)?.remove(connection);
    },
  };

  const wss = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    perMessageDeflate: false,
    maxPayload: options.maxPayloadBytes ?? 16_384,
    handleProtocols: (protocols) => (protocols.has(LIVE_SUBPROTOCOL) ? LIVE_SUBPROTOCOL : false),
  });
  wss.on('error', (err) => report(err));

  function onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // Node removes its own socket listeners before emitting 'upgrade': without this one, a peer
    // that resets the connection during authentication would crash the process.
    socket.on('error', onSocketError);
    try {
      const reqPath = pathOf(req);
      if (reqPath !== path) {
        if (rejectOtherPaths) setImmediate(() => rejectUnclaimed(socket));
        return;
      }
      claim(socket);
      if (closed) {
        answerHttp(socket, 503);
        return;
      }
      const ctx = upgradeContext(app, req);
      const origin = req.headers.origin;
      if (typeof origin !== 'string' || !originOk(origin, ctx)) {
        answerHttp(socket, 403);
        return;
      }
      const offered = req.headers['sec-websocket-protocol'];
      if (offered !== undefined && !offered.split(',').some((p) => p.trim() === LIVE_SUBPROTOCOL)) {
        answerHttp(socket, 400);
        return;
      }
      void authenticate(ctx, req, socket, head);
    } catch (err) {
      report(err);
      answerHttp(socket, 500);
    }
  }

  async function authenticate(
    ctx: Koa.Context,
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
  ): Promise<void> {
    let sessionId: string | undefined;
    try {
      sessionId = await readSessionId(ctx, session);
    } catch (err) {
      report(err);
      answerHttp(socket, 500);
      return;
    }
    if (closed) {
      answerHttp(socket, 503);
      return;
    }
    if (sessionId === undefined || !sessions.started(sessionId)) {
      debug('live: refused upgrade without a running session');
      answerHttp(socket, 401);
      return;
    }
    if (socket.destroyed) return;
    const id = sessionId;
    wss.handleUpgrade(req, socket, head, (ws) => {
      socket.removeListener('error', onSocketError);
      try {
        accept(ws, id);
      } catch (err) {
        report(err, id);
        ws.terminate();
      }
    });
  }

  function accept(ws: WebSocket, sessionId: string): void {
    if (closed) {
      ws.close(1001, 'server closing');
      return;
    }
    const connection = new LiveConnection(ws, sessionId, connectionContext);
    let feed = feeds.get(sessionId);
    if (!feed) {
      try {
        feed = new LiveFeed(sessionId, feedContext);
      } catch (err) {
        // The session ended between the cookie check and the handshake.
        if (!isSessionError(err)) report(err, sessionId);
        connections.add(connection);
        connection.end('terminated');
        return;
      }
      feeds.set(sessionId, feed);
    }
    connections.add(connection);
    feed.add(connection);
    debug('live: view of session %s connected (%d views)', sessionId, connections.size);
  }

  const heartbeat =
    heartbeatMs > 0
      ? setInterval(() => {
          for (const connection of connections) {
            if (!connection.alive) {
              debug('live: view of session %s missed its heartbeat', connection.sessionId);
              connection.terminate();
            } else connection.ping();
          }
        }, heartbeatMs)
      : undefined;
  heartbeat?.unref();

  server.on('upgrade', onUpgrade);

  return {
    get clients() {
      return connections.size;
    },
    get sessions() {
      return feeds.size;
    },
    viewsOf(sessionId: string) {
      return feeds.get(sessionId)?.views.size ?? 0;
    },
    stats() {
      let bufferedBytes = 0;
      let supersededSnapshots = 0;
      for (const c of connections) {
        bufferedBytes += c.bufferedAmount;
        supersededSnapshots += c.superseded;
      }
      return {
        clients: connections.size,
        sessions: feeds.size,
        bufferedBytes,
        supersededSnapshots,
      };
    },
    close() {
      if (!closed) {
        closed = true;
        server.removeListener('upgrade', onUpgrade);
        if (heartbeat) clearInterval(heartbeat);
        const open = [...connections];
        closing.add(
          Promise.all(open.map((c) => closedOf(c))).then(() => {
            wss.close();
          }),
        );
        for (const connection of open) connection.close(1001, 'server closing');
      }
      return Promise.all(closing).then(() => undefined);
    },
  };

  function closedOf(connection: LiveConnection): Promise<void> {
    // A peer that never completes the closing handshake is cut off after a second.
    const cut = setTimeout(() => connection.terminate(), 1_000);
    return connection.whenClosed.then(() => clearTimeout(cut));
  }
}

function rejectUnclaimed(socket: Duplex): void {
  if (isClaimed(socket) || socket.destroyed) return;
  // ws's handleUpgrade (of another library) writes nothing until its handshake completes; a
  // socket whose upgrade nobody claimed synchronously would hang forever without this answer.
  answerHttp(socket, 404);
}

function onSocketError(this: Duplex): void {
  this.destroy();
}

function originCheck(
  origins: LiveBridgeOptions['origins'],
): (origin: string, ctx: Koa.Context) => boolean {
  if (typeof origins === 'function') return origins;
  // Not `ctx.origin`: since Koa 3 that is the request's Origin header itself, not its own origin.
  if (origins === 'same-origin') return (origin, ctx) => origin === `${ctx.protocol}://${ctx.host}`;
  if (!Array.isArray(origins)) {
    throw new TypeError('attachLiveBridge: `origins` must be a list of allowed Origin values');
  }
  const allowed = new Set(origins);
  return (origin) => allowed.has(origin);
}
