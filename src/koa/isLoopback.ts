import type { IncomingMessage } from 'node:http';

const PROXY_HEADERS = ['forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-real-ip'] as const;

/**
 * Whether a request comes from this machine: its socket's peer address is loopback (127.0.0.0/8,
 * ::1, or IPv4-mapped 127.x) and it carries no proxy header (`Forwarded`, `X-Forwarded-For`,
 * `X-Forwarded-Host`, `X-Real-IP`). A request relayed by a reverse proxy on the same host arrives from 127.0.0.1
 * too: the proxy headers are what tell it apart, so such a request is never "loopback", whatever
 * `app.proxy` says.
 *
 * @example
 * ```ts
 * app.use(visualizer(sessions, { authorize: (ctx) => isLoopback(ctx) }));
 * ```
 */
export function isLoopback(ctx: { req: IncomingMessage }): boolean {
  const { req } = ctx;
  const address = req.socket?.remoteAddress;
  if (!address) return false;
  if (PROXY_HEADERS.some((h) => req.headers[h] !== undefined)) return false;
  const ip = address.startsWith('::ffff:') ? address.slice(7) : address;
  return ip === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(ip);
}
