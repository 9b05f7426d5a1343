import { type IncomingMessage, ServerResponse, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type Koa from 'koa';

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
 * @internal
 */
export const UPGRADE_CLAIMED = Symbol.for('session-process.upgrade.claimed');

/** @internal */
export function claim(socket: Duplex): void {
  (socket as Duplex & { [UPGRADE_CLAIMED]?: true })[UPGRADE_CLAIMED] = true;
}

/** @internal */
export function isClaimed(socket: Duplex): boolean {
  return (socket as Duplex & { [UPGRADE_CLAIMED]?: true })[UPGRADE_CLAIMED] === true;
}

/**
 * Answers an upgrade request with a plain HTTP response and closes the socket, as ws's own
 * `abortHandshake` does: a refused upgrade must get an answer, never a socket left hanging.
 * @internal
 */
export function answerHttp(
  socket: Duplex,
  status: number,
  headers: Record<string, string> = {},
): void {
  if (socket.destroyed || !socket.writable) {
    socket.destroy();
    return;
  }
  const body = STATUS_CODES[status] ?? 'Error';
  const lines = [
    `HTTP/1.1 ${status} ${body}`,
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
 * @internal
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
 * @internal
 */
export function upgradeContext(app: Koa<any, any>, req: IncomingMessage): Koa.Context {
  return app.createContext(req, new ServerResponse(req)) as Koa.Context;
}

/** The path of an upgrade request's URL, or `undefined` when it cannot be parsed. @internal */
export function pathOf(req: IncomingMessage): string | undefined {
  const url = req.url ?? '';
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  return path.startsWith('/') ? path : undefined;
}
