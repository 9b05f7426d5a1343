/**
 * Host names the visualizer (and `/metrics`'s `metricsMiddleware`) answers to besides loopback
 * names and IP addresses: exact names, or
 * a name with a leading dot for that domain and all its subdomains (`'.example.com'`), as Vite's
 * and webpack-dev-server's `allowedHosts` take them; `'any'` turns the check off.
 */
export type AllowedHosts = readonly string[] | 'any';

/**
 * The name in a `Host` header, lowercased, without its port, its trailing dot and the brackets
 * of an IPv6 address.
 *
 * @example
 * ```ts
 * hostnameOf('LOCALHOST:3000'); // 'localhost'
 * hostnameOf('[::1]:8080'); // '::1'
 * ```
 */
export function hostnameOf(host: string): string {
  const h = host.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end === -1 ? h : h.slice(1, end);
  }
  const colon = h.indexOf(':');
  return (colon === -1 ? h : h.slice(0, colon)).replace(/\.$/, '');
}

const IPV4 = /^\d{1,3}(?:\.\d{1,3}){3}$/;

/**
 * Whether the visualizer answers a request for this `Host` (or, behind a proxy with `app.proxy`,
 * `X-Forwarded-Host`). A page on another site can make the browser resolve its own name to
 * 127.0.0.1 (DNS rebinding) and then read the visualizer as "same origin"; the browser still
 * sends that name as `Host`, so only names the operator chose are answered. Loopback names
 * (`localhost`, `*.localhost`) and IP addresses are always allowed: an address cannot be rebound.
 * A request without `Host` is not from a browser and passes (`authorize` still applies).
 *
 * @example
 * ```ts
 * isHostAllowed('localhost:3000', []); // true
 * isHostAllowed('evil.example', []); // false
 * isHostAllowed('admin.example.com', ['.example.com']); // true
 * ```
 */
export function isHostAllowed(host: string | undefined, allowed: AllowedHosts): boolean {
  if (allowed === 'any' || host === undefined || host === '') return true;
  const name = hostnameOf(host);
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  if (IPV4.test(name) || name.includes(':')) return true;
  for (const entry of allowed) {
    const e = entry.toLowerCase();
    if (e.startsWith('.') ? name === e.slice(1) || name.endsWith(e) : name === e) return true;
  }
  return false;
}
