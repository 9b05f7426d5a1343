import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { debuglog } from 'node:util';
import type Koa from 'koa';
import type { WebSocketServer } from 'ws';
import {
  isLiveRefusedError,
  type LiveRefusalReason,
  LiveRefusedError,
  type LiveRefusedCode,
} from './LiveRefusedError.js';
import { LIVE_SUBPROTOCOL, REFUSAL_CLOSE_CODES } from './protocol.js';
import { type LiveRefusedEvent, liveTelemetryChannels } from './telemetry.js';
import type { LiveBridgeOptions } from './types.js';
import { answerHttp, pathOf } from './upgrade.js';

const debug = debuglog('session-process');

/** How long a refused socket may take to complete its closing handshake before it is cut off. */
const REFUSAL_CLOSE_MS = 1_000;

/** The HTTP status of each refusal (a code always has the same one). */
const STATUS: Readonly<Record<LiveRefusedCode, number>> = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  SESSION_ROTATED: 409,
  SESSION_REPLACED: 410,
  TOO_MANY_VIEWS: 429,
  SERVER_BUSY: 503,
};

/** @internal What a bridge's refusals need. */
export interface RefuserContext {
  wss: WebSocketServer;
  report(error: unknown, sessionId?: string, reason?: LiveRefusalReason): void;
  /** Sockets being refused over WebSocket (the bridge's close() leaves them be). */
  refusing: WeakSet<Duplex>;
  counted(): void;
}

/**
 * @internal
 * The bridge's `refuse(req, socket, head, reason, code, message, sessionId?)`: refuses an upgrade
 * and reports it (`onError`, the `session-process:live-refused` channel). A client that offered
 * the protocol's subprotocol is a `connectLive` (or another client of this protocol): a browser
 * cannot read the HTTP status of a refused upgrade, so it gets the handshake and a close code
 * naming the refusal at once. Anyone else gets the HTTP status.
 */
export function refuser(c: RefuserContext) {
  return function refuse(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    reason: LiveRefusalReason,
    code: LiveRefusedCode,
    message: string,
    sessionId?: string,
  ): void {
    c.counted();
    const status = STATUS[code];
    const origin = typeof req.headers.origin === 'string' ? req.headers.origin : undefined;
    const error = new LiveRefusedError(reason, code, status, message, { origin, sessionId });
    debug('live: refused an upgrade (%s): %s', reason, message);
    const ch = liveTelemetryChannels.refused;
    if (ch.hasSubscribers) {
      const event: LiveRefusedEvent = {
        reason,
        code,
        status,
        path: pathOf(req) ?? '',
        origin,
        sessionId,
        message,
      };
      ch.publish(event);
    }
    c.report(error, sessionId, reason);
    const closeCode = (REFUSAL_CLOSE_CODES as Record<string, number | undefined>)[code];
    if (closeCode === undefined || !offersProtocol(req) || socket.destroyed) {
      answerHttp(socket, status, status === 503 ? { 'Retry-After': '5' } : {}, `${message}\n`);
      return;
    }
    c.refusing.add(socket);
    c.wss.handleUpgrade(req, socket, head, (ws) => {
      socket.removeListener('error', onSocketError);
      ws.on('error', () => {});
      const cut = setTimeout(() => ws.terminate(), REFUSAL_CLOSE_MS);
      cut.unref();
      ws.once('close', () => clearTimeout(cut));
      ws.close(closeCode, code);
    });
  };
}

/** @internal Whether the upgrade offers the live protocol's subprotocol. */
export function offersProtocol(req: IncomingMessage): boolean {
  const offered = req.headers['sec-websocket-protocol'];
  return offered?.split(',').some((p) => p.trim() === LIVE_SUBPROTOCOL) ?? false;
}

/** Failures to console.error; refusals to console.warn, at most one per reason a minute. */
export function defaultOnError(): NonNullable<LiveBridgeOptions['onError']> {
  const warned = new Map<LiveRefusalReason, number>();
  return (error, info) => {
    if (isLiveRefusedError(error)) {
      // A crawler or an attacker can make refusals by the thousand: the log gets a sample, the
      // `session-process:live-refused` channel gets all of them.
      const now = Date.now();
      if (now - (warned.get(error.reason) ?? Number.NEGATIVE_INFINITY) < 60_000) return;
      warned.set(error.reason, now);
      console.warn(`session-process/live: refused an upgrade (${error.reason}): ${error.message}`);
      return;
    }
    console.error('session-process/live:', info.sessionId ?? '', error);
  };
}

/** @internal A socket error before the upgrade completes: drop the socket. */
export function onSocketError(this: Duplex): void {
  this.destroy();
}

/** @internal The `origins` option as a check. */
export function originCheck(
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
