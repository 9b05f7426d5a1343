/**
 * A browser-like cookie jar for `fetch`: keeps what `Set-Cookie` sets, drops what it expires or
 * empties, sends the rest back. One jar is one browser (all its tabs share it). Given a base URL,
 * `request`/`json` take paths and JSON bodies (the shape most app tests speak).
 *
 * @example
 * ```ts
 * const jar = new CookieJar();
 * await jar.fetch(`${url}/login`);           // stores the signed session cookie
 * const res = await jar.fetch(`${url}/cart`); // sends it back
 * const api = new CookieJar(url);
 * const { count } = await api.json('POST', '/inc');
 * ```
 */
export class CookieJar {
  readonly cookies = new Map<string, string>();
  /** Prefix of the paths `request` and `json` take. @default '' */
  readonly base: string;

  constructor(base = '') {
    this.base = base;
  }

  /** `fetch(base + path)` with this jar's cookies and, when given, `body` as JSON. */
  request(method: string, path: string, body?: unknown): Promise<Response> {
    return this.fetch(this.base + path, {
      method,
      ...(body === undefined
        ? {}
        : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
  }

  /** {@link request}, then the answer's JSON; throws with the status and body unless 2xx. */
  async json<T = any>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.request(method, path, body);
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  }

  /** `fetch` with this jar's cookies; stores the answer's `Set-Cookie`. Never follows redirects. */
  async fetch(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    const cookie = this.header();
    if (cookie && !headers.has('cookie')) headers.set('cookie', cookie);
    const res = await fetch(url, { redirect: 'manual', ...init, headers });
    this.store(res.headers.getSetCookie());
    return res;
  }

  /** The `Cookie` request header for what the jar holds (empty when it holds nothing). */
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  /** Applies `Set-Cookie` lines as a browser would (an `Expires` in the past or `Max-Age=0` deletes). */
  store(setCookies: readonly string[]): void {
    for (const line of setCookies) {
      const [pair = '', ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => {
        const i = a.indexOf('=');
        const k = (i === -1 ? a : a.slice(0, i)).trim().toLowerCase();
        const v = i === -1 ? '' : a.slice(i + 1).trim();
        return (
          (k === 'expires' && Date.parse(v) <= Date.now()) || (k === 'max-age' && Number(v) <= 0)
        );
      });
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  /**
   * What a koa-session cookie named `name` holds (its base64 JSON, the signature not checked):
   * the session data the server last wrote to this browser. `undefined` without that cookie.
   */
  sessionData(name: string): Record<string, any> | undefined {
    const value = this.cookies.get(name);
    return value === undefined
      ? undefined
      : JSON.parse(Buffer.from(value, 'base64').toString('utf8'));
  }

  /**
   * Another jar holding a copy of this one's cookies (a second browser with a copied cookie), for
   * `base` (the same browser after the server came back on another port).
   */
  clone(base = this.base): CookieJar {
    const other = new CookieJar(base);
    for (const [k, v] of this.cookies) other.cookies.set(k, v);
    return other;
  }
}
