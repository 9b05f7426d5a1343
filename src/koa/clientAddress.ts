import type { IncomingMessage } from 'node:http';
import { isIPv4, isIPv6 } from 'node:net';

/**
 * Options of {@link clientAddress}.
 *
 * @example
 * ```ts
 * clientAddress(ctx, { ipv6Prefix: 56 }); // a /56 is one client
 * ```
 */
export interface ClientAddressOptions {
  /**
   * Bits of an IPv6 address that name one client: addresses that share them share a budget. A
   * home or an office gets a /64 (or a /56, a /48) from its provider and can pick any of its 2^64
   * addresses, so counting exact IPv6 addresses would give it 2^64 budgets. `128` counts exact
   * addresses.
   * @default 64 (bits)
   */
  ipv6Prefix?: number | undefined;
}

/**
 * What {@link clientAddress} reads of a request: a Koa context has it all (the upgrade context of
 * `upgradeContext(app, req)` too).
 *
 * @example
 * ```ts
 * const source: ClientAddressSource = { app, req }; // app.proxy, app.maxIpsCount, the raw request
 * ```
 */
export interface ClientAddressSource {
  app: { proxy?: boolean; maxIpsCount?: number; proxyIpHeader?: string };
  req: IncomingMessage;
}

/** Longest client key kept from a forwarded entry that is not an address (`unknown`, say). */
const MAX_KEY_LENGTH = 64;

/**
 * The client a request counts against: its address as the trusted proxy hops saw it, never a
 * value the client wrote, with an IPv6 address cut to its `/64` (see `ipv6Prefix`). The Koa start
 * limit (`sessionProcess`'s `clientStartRate`) and the live bridge's per-client budgets both key
 * by it.
 *
 * - Without `app.proxy`: the socket's peer address.
 * - With `app.proxy`: `X-Forwarded-For` (Koa's `app.proxyIpHeader`) read from the right. Each
 *   proxy appends the address it received the request from, so with `app.maxIpsCount = n` proxies
 *   in front the client is the n-th entry from the right; everything left of it was written by
 *   the client and is ignored. Koa's own default `maxIpsCount` (`0`, no limit) is read as one
 *   proxy. A header with fewer entries than hops (a request that skipped the outer proxy) gives
 *   its leftmost entry; a request without the header gives the peer address.
 *
 * Koa's `ctx.ip` is not used: with `maxIpsCount` unset it is the leftmost entry, which whoever
 * sends the request chooses (rotating it bought a fresh start budget per request).
 *
 * IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`) count as their IPv4 address; a port or brackets
 * that a proxy added (`1.2.3.4:5678`, `[2001:db8::1]:443`) and an IPv6 zone are dropped.
 *
 * @example
 * ```ts
 * app.proxy = true;
 * app.maxIpsCount = 1; // one proxy in front
 * // X-Forwarded-For: 6.6.6.6, 203.0.113.7   (the client wrote 6.6.6.6; the proxy added 203.0.113.7)
 * clientAddress(ctx); // '203.0.113.7'
 * // from 2001:db8:1:2:aaaa::1 and 2001:db8:1:2:bbbb::9 alike:
 * clientAddress(ctx); // '2001:db8:1:2::/64'
 * clientAddress(ctx, { ipv6Prefix: 56 }); // '2001:db8:1:0::/56'
 * ```
 */
export function clientAddress(
  ctx: ClientAddressSource,
  options: ClientAddressOptions = {},
): string {
  const prefix = options.ipv6Prefix ?? 64;
  const peer = ctx.req.socket?.remoteAddress ?? '';
  const app = ctx.app;
  if (!app.proxy) return addressKey(peer, prefix);
  const header = ctx.req.headers[(app.proxyIpHeader ?? 'X-Forwarded-For').toLowerCase()];
  const value = Array.isArray(header) ? header.join(',') : header;
  if (value === undefined) return addressKey(peer, prefix);
  const entries = value
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
  if (entries.length === 0) return addressKey(peer, prefix);
  const hops = app.maxIpsCount !== undefined && app.maxIpsCount > 0 ? app.maxIpsCount : 1;
  return addressKey(entries[Math.max(0, entries.length - hops)]!, prefix);
}

/**
 * The client key of one address: an IPv4 address as it is, an IPv6 address cut to `prefix` bits
 * (`2001:db8:1:2::/64`), anything else (a proxy's `unknown`) as it is, shortened.
 * @internal
 */
export function addressKey(raw: string, prefix = 64): string {
  if (!Number.isInteger(prefix) || prefix < 1 || prefix > 128) {
    throw new RangeError(`ipv6Prefix must be a whole number of bits from 1 to 128, not ${prefix}`);
  }
  let a = raw.trim().toLowerCase();
  if (a.startsWith('[')) {
    const end = a.indexOf(']');
    if (end !== -1) a = a.slice(1, end);
  } else if (/^\d{1,3}(?:\.\d{1,3}){3}:\d+$/.test(a)) a = a.slice(0, a.lastIndexOf(':'));
  const zone = a.indexOf('%');
  if (zone !== -1) a = a.slice(0, zone);
  if (a.startsWith('::ffff:') && isIPv4(a.slice(7))) return a.slice(7);
  if (isIPv4(a)) return a;
  if (!isIPv6(a)) return a.slice(0, MAX_KEY_LENGTH);
  const groups = ipv6Groups(a);
  if (prefix === 128) return groups.map((g) => g.toString(16)).join(':');
  const kept = Math.ceil(prefix / 16);
  const out = groups.slice(0, kept);
  const partial = prefix % 16;
  if (partial !== 0) out[kept - 1] = out[kept - 1]! & (0xffff << (16 - partial)) & 0xffff;
  return `${out.map((g) => g.toString(16)).join(':')}::/${prefix}`;
}

/** The eight 16-bit groups of a valid IPv6 address (with `::` and a dotted IPv4 tail expanded). */
function ipv6Groups(address: string): number[] {
  let a = address;
  const tail: number[] = [];
  const lastColon = a.lastIndexOf(':');
  if (a.slice(lastColon + 1).includes('.')) {
    const [b0, b1, b2, b3] = a
      .slice(lastColon + 1)
      .split('.')
      .map(Number) as [number, number, number, number];
    tail.push((b0 << 8) | b1, (b2 << 8) | b3);
    a = `${a.slice(0, lastColon + 1)}`;
    if (a.endsWith(':') && !a.endsWith('::')) a = a.slice(0, -1);
  }
  const [head, rest] = a.split('::') as [string, string | undefined];
  const parse = (s: string | undefined): number[] =>
    s === undefined || s === '' ? [] : s.split(':').map((g) => Number.parseInt(g, 16));
  const left = parse(head);
  const right = [...parse(rest), ...tail];
  if (rest === undefined) return [...left, ...tail];
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}
