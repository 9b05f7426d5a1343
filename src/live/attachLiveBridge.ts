import type { IncomingMessage, Server } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { debuglog } from 'node:util';
import type Koa from 'koa';
import { type WebSocket, WebSocketServer } from 'ws';
import { isSessionError } from '../index.js';
import { ClientBudgets } from './ClientBudgets.js';
import { type ConnectionContext, LiveConnection } from './LiveConnection.js';
import { type FeedContext, LiveFeed } from './LiveFeed.js';
import { LIVE_SUBPROTOCOL } from './protocol.js';
import { offersProtocol, onSocketError, refuser } from './refuseUpgrade.js';
import { resolveLiveOptions } from './resolveLiveOptions.js';
import { restoreForView } from './restoreForView.js';
import { type LiveDroppedEvent, liveTelemetryChannels } from './telemetry.js';
import type { LiveBridge, LiveBridgeOptions } from './types.js';
import { answerHttp, claim, isClaimed, pathOf, readSessionId, upgradeContext } from './upgrade.js';

const debug = debuglog('session-process');

/**
 * Serves live views of session processes over WebSocket (ws 8) on an existing HTTP server.
 *
 * An upgrade to `path` is accepted when its `Origin` is allowed, the app's koa-session middleware
 * finds a valid session holding `sessionId`, that session is running and has fewer than
 * `maxViewsPerSession` views, its client (`clientKey`: the address the trusted proxy hops saw)
 * holds fewer than `maxViewsPerClient`, and the bridge holds fewer than `maxConnections` sockets.
 * Every new connection of the server is watched until its first request head, which must arrive
 * within `headersTimeoutMs`. Events a view sends are checked against `events` (type and payload).
 * A refusal is reported to `onError` (a {@link LiveRefusedError} with its reason) and on the
 * `session-process:live-refused` channel; a client that speaks the protocol learns it from a
 * close code (see `REFUSAL_CLOSE_CODES`), any other from the HTTP status (401, 403, 404, 429, 503).
 * The view then gets the current snapshot, every later one, replies and errors, and `ended`
 * followed by close code 4001 when the session ends or is rotated. See `session-process/client`
 * for the browser side and `./protocol.ts` for the messages.
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
  const opts = resolveLiveOptions(options);
  const { path, heartbeatMs, maxConnections, maxViewsPerClient, maxViewsPerSession, report } = opts;

  const feeds = new Map<string, LiveFeed>();
  const connections = new Set<LiveConnection>();
  const closing = new Set<Promise<void>>();
  let closed = false;
  // Sockets between the `upgrade` event and an open view (authenticating, handshaking) or the end
  // of a refusal: they hold a file descriptor as much as a view does.
  const upgrading = new Set<Duplex>();
  const upgradingBySession = new Map<string, number>();
  // Refused sockets that got the handshake and a close code: they close by themselves.
  const refusing = new WeakSet<Duplex>();
  let refused = 0;
  let timedOutHeads = 0;
  const budgets = new ClientBudgets(server, {
    maxViewsPerClient,
    headersTimeoutMs: opts.headersTimeoutMs,
    app,
    report,
    refused: () => {
      refused++;
    },
    timedOut: () => {
      timedOutHeads++;
    },
  });

  const dropped = (connection: LiveConnection, reason: LiveDroppedEvent['reason']): void => {
    debug('live: view of session %s dropped (%s)', connection.sessionId, reason);
    const ch = liveTelemetryChannels.dropped;
    if (ch.hasSubscribers) ch.publish({ sessionId: connection.sessionId, reason });
  };

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
    checks: opts.checks,
    ...opts.limits,
    report,
    dropped,
    closed: (connection) => {
      connections.delete(connection);
      feeds.get(connection.sessionId)?.remove(connection);
    },
  };

  const wss = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    perMessageDeflate: false,
    maxPayload: opts.maxPayloadBytes,
    handleProtocols: (protocols) => (protocols.has(LIVE_SUBPROTOCOL) ? LIVE_SUBPROTOCOL : false),
  });
  wss.on('error', (err) => report(err));

  /** Counts a socket as upgrading until `release` or its close, whichever comes first. */
  function track(socket: Duplex): () => void {
    upgrading.add(socket);
    const release = (): void => {
      upgrading.delete(socket);
      socket.removeListener('close', release);
    };
    socket.once('close', release);
    return release;
  }

  function full(): boolean {
    return connections.size + upgrading.size >= maxConnections;
  }

  const refuse = refuser({
    wss,
    report,
    refusing,
    counted: () => {
      refused++;
    },
  });

  function onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // Node removes its own socket listeners before emitting 'upgrade': without this one, a peer
    // that resets the connection during authentication would crash the process.
    socket.on('error', onSocketError);
    try {
      const reqPath = pathOf(req);
      if (reqPath !== path) {
        if (opts.rejectOtherPaths) setImmediate(() => rejectUnclaimed(req, socket, head));
        return;
      }
      claim(socket);
      if (closed) {
        refuse(req, socket, head, 'closing', 'SERVER_BUSY', 'The live bridge is closing');
        return;
      }
      // Before any work for it: a flood of upgrades must not reach the cookie check.
      if (full()) {
        refuse(
          req,
          socket,
          head,
          'limit',
          'SERVER_BUSY',
          `The live bridge holds maxConnections (${maxConnections}) sockets`,
        );
        return;
      }
      const ctx = upgradeContext(app, req);
      const client = opts.clientKey(ctx);
      if (budgets.heldBy(client) >= maxViewsPerClient) {
        refuse(
          req,
          socket,
          head,
          'limit',
          'TOO_MANY_VIEWS',
          `The client ${client.slice(0, 64)} holds maxViewsPerClient (${maxViewsPerClient}) live views`,
        );
        return;
      }
      budgets.hold(client, socket);
      const release = track(socket);
      const offered = req.headers['sec-websocket-protocol'];
      if (offered !== undefined && !offersProtocol(req)) {
        refuse(
          req,
          socket,
          head,
          'subprotocol',
          'BAD_REQUEST',
          `Offer the subprotocol ${LIVE_SUBPROTOCOL} or none`,
        );
        return;
      }
      const origin = req.headers.origin;
      if (typeof origin !== 'string') {
        refuse(
          req,
          socket,
          head,
          'origin',
          'FORBIDDEN',
          'An upgrade without an Origin header is refused',
        );
        return;
      }
      if (!opts.originOk(origin, ctx)) {
        refuse(
          req,
          socket,
          head,
          'origin',
          'FORBIDDEN',
          `Origin ${origin.slice(0, 200)} is not allowed: add it to the live bridge's \`origins\``,
        );
        return;
      }
      authenticate(ctx, req, socket, head, release).catch((err: unknown) => {
        report(err);
        answerHttp(socket, 500);
      });
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
    release: () => void,
  ): Promise<void> {
    let sessionId: string | undefined;
    try {
      sessionId = await readSessionId(ctx, session);
    } catch (err) {
      report(err);
      answerHttp(socket, 500);
      return;
    }
    // The peer went away, or close() answered it, while the cookie was checked.
    if (socket.destroyed) return;
    if (closed) {
      refuse(req, socket, head, 'closing', 'SERVER_BUSY', 'The live bridge is closing');
      return;
    }
    if (sessionId === undefined) {
      refuse(
        req,
        socket,
        head,
        'cookie',
        'UNAUTHORIZED',
        'No valid session cookie holding a sessionId',
      );
      return;
    }
    const verdict = await restoreForView(sessions, sessionId);
    if (verdict.kind === 'refuse') {
      refuse(req, socket, head, 'cookie', verdict.code, verdict.message, sessionId);
      return;
    }
    if (verdict.kind === 'failed') {
      report(verdict.error, sessionId);
      answerHttp(socket, verdict.status);
      return;
    }
    if (socket.destroyed) return;
    if (!verdict.running) {
      refuse(
        req,
        socket,
        head,
        'cookie',
        'UNAUTHORIZED',
        "The cookie's session is not running",
        sessionId,
      );
      return;
    }
    const id = sessionId;
    const views = (feeds.get(id)?.views.size ?? 0) + (upgradingBySession.get(id) ?? 0);
    if (views >= maxViewsPerSession) {
      refuse(
        req,
        socket,
        head,
        'limit',
        'TOO_MANY_VIEWS',
        `The session has maxViewsPerSession (${maxViewsPerSession}) live views`,
        id,
      );
      return;
    }
    upgradingBySession.set(id, (upgradingBySession.get(id) ?? 0) + 1);
    let counted = true;
    const releaseView = (): void => {
      if (!counted) return;
      counted = false;
      socket.removeListener('close', releaseView);
      const n = (upgradingBySession.get(id) ?? 1) - 1;
      if (n === 0) upgradingBySession.delete(id);
      else upgradingBySession.set(id, n);
    };
    // ws destroys a socket it cannot complete the handshake on without calling back.
    socket.once('close', releaseView);
    wss.handleUpgrade(req, socket, head, (ws) => {
      socket.removeListener('error', onSocketError);
      releaseView();
      release();
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

  function rejectUnclaimed(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (isClaimed(socket) || socket.destroyed) return;
    // ws's handleUpgrade (of another library) writes nothing until its handshake completes; a
    // socket whose upgrade nobody claimed synchronously would hang forever without this answer.
    // Claimed here, so that a second bridge on the same server does not answer it again.
    claim(socket);
    if (full()) {
      answerHttp(socket, 404);
      return;
    }
    track(socket);
    refuse(
      req,
      socket,
      head,
      'path',
      'NOT_FOUND',
      `No live view or feed is served at ${(pathOf(req) ?? '?').slice(0, 200)}`,
    );
  }

  const heartbeat =
    heartbeatMs > 0
      ? LiveConnection.heartbeat(connections, heartbeatMs, (c) => dropped(c, 'heartbeat'))
      : undefined;

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
        upgrading: upgrading.size,
        pendingHeads: budgets.pendingHeads,
        timedOutHeads,
        refused,
      };
    },
    close() {
      if (!closed) {
        closed = true;
        server.removeListener('upgrade', onUpgrade);
        budgets.close();
        if (heartbeat) clearInterval(heartbeat);
        // Upgrades still being authenticated (a slow session store) must not hold the server.
        for (const socket of upgrading) {
          if (!refusing.has(socket)) answerHttp(socket, 503, { 'Retry-After': '5' });
        }
        const open = [...connections];
        closing.add(
          Promise.all(open.map((c) => c.closed())).then(() => {
            wss.close();
          }),
        );
        for (const connection of open) connection.close(1001, 'server closing');
      }
      return Promise.all(closing).then(() => undefined);
    },
  };
}
