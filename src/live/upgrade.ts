import { type IncomingMessage, ServerResponse, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type Koa from 'koa';

// The upgrade plumbing every session-process WebSocket handler shares (the live bridge and the
// visualizer's feed). Public, so that the visualizer (and an app's own upgrade handler on the same
// server) uses it through `session-process/live` instead of reaching into this file.

/**
 * A Koa middleware as koa-session returns it (`attachLiveBridge`'s `session` option).
 *
 * @example
 * ```ts
 * const sessionMiddleware: KoaSessionMiddleware = session({ key: 'sid' }, app);
 * ```
 */
export type KoaSessionMiddleware = (ctx: any, next: () => Promise<any>) => Promise<unknown>;

/**
 * Marks an upgrade socket as taken by a session-process handler, so that another bridge (or the
 * visualizer's feed) attached to the same server does not answer it with a 404. A registry-wide
 * symbol: it works across copies of the package.
 *
 * @example
 * ```ts
 * server.on('upgrade', (req, socket) => {
 *   if ((socket as any)[UPGRADE_CLAIMED]) return; // another handler answers it
 * });
 * ```
 */
export const UPGRADE_CLAIMED = Symbol.for('session-process.upgrade.claimed');

/**
 * Marks an upgrade socket as answered by this handler (see {@link UPGRADE_CLAIMED}). Call it
 * synchronously in the `upgrade` listener, before any `await`: the bridge answers unclaimed
 * upgrades to other paths with 404 one tick later.
 *
 * @example
 * ```ts
 * server.on('upgrade', (req, socket, head) => {
 *   if (pathOf(req) !== '/my-feed') return;
 *   claim(socket);
 *   wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
 * });
 * ```
 */
export function claim(socket: Duplex): void {
  (socket as Duplex & { [UPGRADE_CLAIMED]?: true })[UPGRADE_CLAIMED] = true;
}

/**
 * Whether a handler has {@link claim}ed this upgrade socket.
 *
 * @example
 * ```ts
 * setImmediate(() => { if (!isClaimed(socket)) answerHttp(socket, 404); });
 * ```
 */
export function isClaimed(socket: Duplex): boolean {
  return (socket as Duplex & { [UPGRADE_CLAIMED]?: true })[UPGRADE_CLAIMED] === true;
}

/**
 * Answers an upgrade request with a plain HTTP response and closes the socket, as ws's own
 * `abortHandshake` does: a refused upgrade must get an answer, never a socket left hanging.
 * The body is the status text unless `body` says more (say, what to configure).
 *
 * @example
 * ```ts
 * if (!originOk) return answerHttp(socket, 403);
 * if (busy) return answerHttp(socket, 503, { 'Retry-After': '5' });
 * ```
 */
export function answerHttp(
  socket: Duplex,
  status: number,
  headers: Record<string, string> = {},
  body: string = STATUS_CODES[status] ?? 'Error',
): void {
  if (socket.destroyed || !socket.writable) {
    socket.destroy();
    return;
  }
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`,
    'Connection: close',
    'Content-Type: text/plain; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  socket.once('finish', () => socket.destroy());
  socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
}

/**
 * Reads `ctx.session.sessionId` for an upgrade request by running the app's own koa-session
 * middleware on a Koa context built from it, so the signed cookie (or the external store) is
 * checked exactly as on an HTTP request (`ctx` from {@link upgradeContext}).
 *
 * Resolves `undefined` when there is no valid session or it holds no string `sessionId`.
 *
 * @example
 * ```ts
 * const sessionId = await readSessionId(upgradeContext(app, req), sessionMiddleware);
 * if (sessionId === undefined || !sessions.started(sessionId)) return answerHttp(socket, 401);
 * ```
 */
export async function readSessionId(
  ctx: Koa.Context,
  session: KoaSessionMiddleware,
): Promise<string | undefined> {
  let id: unknown;
  let read = false;
  try {
    await session(ctx, async () => {
      id = (ctx as { session?: { sessionId?: unknown } | null }).session?.sessionId;
      read = true;
    });
  } catch (err) {
    // koa-session commits after `next`; a failure there (a `secure` cookie on a plain-HTTP
    // upgrade behind a proxy, say) happens after the cookie was verified and read.
    if (!read) throw err;
  }
  return typeof id === 'string' && id.length > 0 ? id : undefined;
}

/**
 * A Koa context for an upgrade request, with a detached response: whatever koa-session writes
 * into it (a cleared cookie after a bad signature, say) goes nowhere.
 *
 * @example
 * ```ts
 * const ctx = upgradeContext(app, req);
 * const allowed = ctx.ip === '127.0.0.1'; // honours app.proxy like any request
 * ```
 */
export function upgradeContext(app: Koa<any, any>, req: IncomingMessage): Koa.Context {
  return app.createContext(req, new ServerResponse(req)) as Koa.Context;
}

/**
 * The path of an upgrade request's URL (without the query), or `undefined` when it is not an
 * absolute path.
 *
 * @example
 * ```ts
 * pathOf(req); // '/live' for 'GET /live?x=1'
 * ```
 */
export function pathOf(req: IncomingMessage): string | undefined {
  const url = req.url ?? '';
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  return path.startsWith('/') ? path : undefined;
}
