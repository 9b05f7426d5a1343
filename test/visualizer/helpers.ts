import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import session from 'koa-session';
import type { Browser } from 'playwright-core';
import { createSessionSupervisor, type SessionSupervisor } from 'session-process';
import { sessionProcess } from 'session-process/koa';
import { type VisualizerOptions, visualizer } from 'session-process/visualizer';
import { WebSocket } from 'ws';
import type { AnyActorLogic } from 'xstate';
import { cartMachine } from '../../machines/cart.js';

export const CHROMIUM = '/usr/bin/chromium';

/**
 * Whether browser tests can run. Without Chromium they are skipped with a printed reason, except
 * under CI (`CI=true`), where a missing browser is a failure.
 */
export function chromiumAvailable(): boolean {
  if (existsSync(CHROMIUM)) return true;
  if (process.env.CI === 'true')
    throw new Error(`${CHROMIUM} is missing: browser tests cannot run in CI`);
  console.warn(`skipping browser tests: ${CHROMIUM} not found (install Debian's chromium)`);
  return false;
}

export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

export interface VizApp {
  url: string;
  sessions: SessionSupervisor;
  app: Koa;
  server: Server;
  /** A browser-like HTTP client with its own cookie jar (one session each). */
  client(): Client;
  /** Opens the visualizer feed as a Node WebSocket client; resolves once connected. */
  feed(headers?: Record<string, string>): Promise<FeedTestClient>;
  close(): Promise<void>;
}

/**
 * A real Koa 3 app with koa-session 7, `sessionProcess` on `cartMachine` and the visualizer at
 * `/_sessions`, on 127.0.0.1 and a free port. Routes (each starts or reuses the cookie's
 * session): `GET /id` → `{ id }`; `POST /event` casts the JSON body to the session (204);
 * `GET /cart` → the cart (a call).
 */
export async function startVizApp(
  options: VisualizerOptions = {},
  { logic = cartMachine as AnyActorLogic, proxy = false } = {},
): Promise<VizApp> {
  const sessions = createSessionSupervisor({
    logic,
    startRate: false,
    onError: () => {},
  });
  const app = new Koa();
  app.keys = ['viz-test-key-0123456789abcdefghijklmnop'];
  app.silent = true;
  app.proxy = proxy;
  const viz = visualizer(sessions, { allowSend: true, app, ...options });
  app.use(viz);
  app.use(session({ key: 'sid', maxAge: 60_000, httpOnly: true, sameSite: 'lax' }, app));
  // Eager and without the per-client limit: the tests make sessions with GET /id, all from 127.0.0.1.
  app.use(sessionProcess(sessions, { lazy: false, clientStartRate: false }));
  app.use(async (ctx) => {
    const sp = ctx.sessionProcess;
    if (ctx.method === 'GET' && ctx.path === '/id') {
      ctx.body = { id: sp.id };
    } else if (ctx.method === 'POST' && ctx.path === '/event') {
      sp.cast(JSON.parse(await readText(ctx.req)));
      ctx.status = 204;
    } else if (ctx.method === 'GET' && ctx.path === '/cart') {
      ctx.body = await sp.call({ type: 'cart.get' });
    } else ctx.status = 404;
  });
  const server = createServer(app.callback());
  const feedAttachment = viz.attach(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const feeds = new Set<FeedTestClient>();
  return {
    url,
    sessions,
    app,
    server,
    client: () => new Client(url),
    async feed(headers = {}) {
      const f = await FeedTestClient.connect(
        `${url.replace('http', 'ws')}/_sessions/feed`,
        headers,
      );
      feeds.add(f);
      return f;
    },
    async close() {
      for (const f of feeds) f.close();
      await feedAttachment.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await sessions.shutdown();
    },
  };
}

function readText(req: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (c) => (text += c));
    req.on('end', () => resolve(text));
    req.on('error', reject);
  });
}

/** An HTTP client that keeps the cookies it is given, like a browser tab. */
export class Client {
  readonly #url: string;
  readonly #cookies = new Map<string, string>();
  constructor(url: string) {
    this.#url = url;
  }
  async request(method: string, path: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = {};
    if (this.#cookies.size) {
      headers.cookie = [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    }
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(this.#url + path, {
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const eq = pair!.indexOf('=');
      this.#cookies.set(pair!.slice(0, eq), pair!.slice(eq + 1));
    }
    return res;
  }
  /** Starts (or reuses) this client's session; returns its ID. */
  async id(): Promise<string> {
    const res = await this.request('GET', '/id');
    return ((await res.json()) as { id: string }).id;
  }
  async send(event: { type: string; [k: string]: unknown }): Promise<void> {
    const res = await this.request('POST', '/event', event);
    if (res.status !== 204) throw new Error(`POST /event answered ${res.status}`);
  }
}

/** A Node WebSocket client of the feed that records every message. */
export class FeedTestClient {
  readonly messages: any[] = [];
  readonly #ws: WebSocket;
  readonly #waiters = new Set<() => void>();

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.on('message', (data) => {
      this.messages.push(JSON.parse(data.toString()));
      for (const w of this.#waiters) w();
    });
  }

  static connect(url: string, headers: Record<string, string>): Promise<FeedTestClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers });
      const client = new FeedTestClient(ws);
      ws.once('open', () => resolve(client));
      ws.once('unexpected-response', (_req, res) =>
        reject(
          Object.assign(new Error(`unexpected response ${res.statusCode}`), {
            status: res.statusCode,
          }),
        ),
      );
      ws.once('error', reject);
    });
  }

  send(msg: unknown): void {
    this.#ws.send(JSON.stringify(msg));
  }

  /** Resolves with the first message (from now on, or already received after `from`) matching. */
  next(predicate: (m: any) => boolean, { from = 0, timeoutMs = 3_000 } = {}): Promise<any> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.messages.slice(from).find(predicate);
        if (found === undefined) return false;
        cleanup();
        resolve(found);
        return true;
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`no matching feed message within ${timeoutMs} ms`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.#waiters.delete(waiter);
      };
      const waiter = () => void check();
      this.#waiters.add(waiter);
      check();
    });
  }

  close(): void {
    this.#ws.close();
  }
}
